"""Runs a Python script in a process that Linux refuses AMX's state: a seccomp filter makes
`arch_prctl(ARCH_REQ_XCOMP_PERM, ...)` fail with EPERM, so that onnxruntime (whose MLAS asks for
AMX before using its `tdpbusd` kernels) falls back to its AVX-512 VNNI kernels, as on a CPU
without AMX. The nn side turns AMX off with `NN_NO_AMX` (bench/onnx/compare_quantized.sh with
`NO_AMX=1` does both).

    /tmp/onnxenv/bin/python bench/onnx/no_amx.py bench/onnx/ort_bench.py mnist

Needs Linux on x86_64 and libseccomp (Debian's libseccomp2). Prints one comment line saying
that the request is refused, then runs the script with the remaining arguments.
"""

import ctypes
import ctypes.util
import os
import runpy
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000
EPERM = 1
SCMP_CMP_EQ = 4
ARCH_PRCTL = 158  # x86_64
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURE_XTILEDATA = 18


class ArgCmp(ctypes.Structure):
    """libseccomp's `struct scmp_arg_cmp`."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def refuse_amx():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        seccomp = ctypes.CDLL(name)
    except OSError as error:
        sys.exit(f"no_amx.py needs libseccomp ({error}); on Debian: apt-get install libseccomp2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    context = ctypes.c_void_p(seccomp.seccomp_init(ctypes.c_uint32(SCMP_ACT_ALLOW)))
    if not context:
        sys.exit("seccomp_init failed")
    first_argument_is_the_request = (ArgCmp * 1)(ArgCmp(0, SCMP_CMP_EQ, ARCH_REQ_XCOMP_PERM, 0))
    if seccomp.seccomp_rule_add_array(context, ctypes.c_uint32(SCMP_ACT_ERRNO | EPERM),
                                      ARCH_PRCTL, 1, first_argument_is_the_request) != 0:
        sys.exit("seccomp_rule_add_array failed")
    if seccomp.seccomp_load(context) != 0:
        sys.exit("seccomp_load failed")
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)
    errno = ctypes.get_errno()
    if result != -1 or errno != EPERM:
        sys.exit(f"the AMX request was not refused (result {result}, errno {errno})")
    print("# no_amx: arch_prctl(ARCH_REQ_XCOMP_PERM) refused (EPERM)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    refuse_amx()
    sys.argv = sys.argv[1:]
    # As if the script had been run itself: its own folder first on the import path.
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    runpy.run_path(sys.argv[0], run_name="__main__")
