import ldap3


def hello(event, context):
    return {"ldap3": ldap3.__version__}
