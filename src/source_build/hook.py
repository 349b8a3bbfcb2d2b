# Runs one PEP 517 hook of a build backend, in an isolated interpreter (`-I -S`) started by
# pylayer's source builder. Argument: a JSON file naming the backend, the paths to put on
# sys.path, the hook, and where to write the answer.
import importlib
import json
import sys


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    # PEP 517: backend-path first (in-tree backends), then the build environment.
    sys.path[:0] = spec["backend_path"] + [spec["env"]]
    module, _, attr = spec["backend"].partition(":")
    backend = importlib.import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else []:
        backend = getattr(backend, part)
    hook = spec["hook"]
    if hook == "get_requires_for_build_wheel":
        fn = getattr(backend, hook, None)
        result = list(fn({})) if fn is not None else []
    elif hook == "build_wheel":
        result = backend.build_wheel(spec["wheel_dir"], {}, None)
    else:
        raise SystemExit("unknown hook " + hook)
    with open(spec["out"], "w", encoding="utf-8") as f:
        json.dump({"result": result}, f)


main()
