"""Imports ldap3 from the layer built by pylayer."""

import ldap3


def handler(event, context):
    return {"ldap3": ldap3.__version__}
