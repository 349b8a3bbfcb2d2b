# pylayer's bytecode driver, run as `python3.X -s -S -B -c <this>` with PYTHONHASHSEED=0.
#
# Reads on stdin a little-endian u32 count, then for each file: u32 length + the path the
# module will have on Lambda (UTF-8, becomes co_filename), u32 length + the source bytes.
# Writes on stdout, per file in the same order: one status byte (0 compiled, 1 not
# compilable), u32 length, then the PEP 552 unchecked-hash .pyc bytes or the error text.
# This is what py_compile does with PycInvalidationMode.UNCHECKED_HASH, minus the files.
import sys
import warnings
import importlib.util
from importlib._bootstrap_external import _code_to_hash_pyc

# SyntaxWarnings (invalid escape sequences and the like) do not stop compilation; they
# would only fill the stderr pipe.
warnings.simplefilter("ignore")
inp = sys.stdin.buffer
out = sys.stdout.buffer


def read_exact(n):
    data = inp.read(n)
    if len(data) != n:
        raise EOFError("input ended after %d of %d bytes" % (len(data), n))
    return data


def read_u32():
    return int.from_bytes(read_exact(4), "little")


for _ in range(read_u32()):
    dfile = read_exact(read_u32()).decode("utf-8")
    source = read_exact(read_u32())
    try:
        code = compile(source, dfile, "exec", dont_inherit=True, optimize=0)
        data = _code_to_hash_pyc(code, importlib.util.source_hash(source), False)
        # Nothing of this file may outlive it: marshal flags shared objects by their
        # reference count, so the next file's bytes must not depend on this one.
        del code
        status = 0
    except Exception as e:  # SyntaxError, ValueError (NUL bytes), RecursionError, ...
        data = ("%s: %s" % (type(e).__name__, e)).encode("utf-8", "replace")
        status = 1
    out.write(bytes([status]) + len(data).to_bytes(4, "little"))
    out.write(data)
out.flush()
