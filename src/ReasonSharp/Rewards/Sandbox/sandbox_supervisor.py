# ReasonSharp sandbox supervisor (trusted; embedded in ReasonSharp.dll and run by PythonSandbox as
# `python -I -S -B -c <this text> <config json>`). It builds the isolation with plain Linux system calls through
# ctypes, starts the untrusted program with `python -I -B main.py`, watches it and the parent process, and
# writes run_dir/status.json. Nothing here runs after the program's execve except the kernel's rules.
#
# Process tree, namespace modes:   reason -> supervisor -> stage (joins cgroups, unshares) -> init (pid 1) -> program
# Process tree, landlock / unsafe: reason -> supervisor -> program
# Every child has PR_SET_PDEATHSIG=SIGKILL; the supervisor watches the reason process through a pidfd and kills
# everything when it goes; init is pid 1 of a PID namespace, so when it dies the kernel kills the whole namespace.
import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import signal
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.unshare.argtypes = [ctypes.c_int]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

MACHINE = os.uname().machine
# Syscall numbers: x86_64 from asm/unistd_64.h, aarch64 from asm-generic/unistd.h.
X86_64 = dict(
    ptrace=101, process_vm_readv=310, process_vm_writev=311, kcmp=312, bpf=321, perf_event_open=298,
    userfaultfd=323, keyctl=250, add_key=248, request_key=249, io_uring_setup=425, io_uring_enter=426,
    io_uring_register=427, unshare=272, setns=308, mount=165, umount2=166, pivot_root=155, chroot=161,
    move_mount=429, open_tree=428, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
    kexec_load=246, kexec_file_load=320, init_module=175, finit_module=313, delete_module=176, reboot=169,
    swapon=167, swapoff=168, acct=163, quotactl=179, quotactl_fd=443, lookup_dcookie=212, personality=135,
    pidfd_open=434, pidfd_send_signal=424, pidfd_getfd=438, clone3=435, clone=56, fork=57, vfork=58,
    name_to_handle_at=303, open_by_handle_at=304, shmget=29, shmat=30, shmctl=31, shmdt=67, semget=64,
    semop=65, semctl=66, semtimedop=220, msgget=68, msgsnd=69, msgrcv=70, msgctl=71, mq_open=240,
    mq_unlink=241, mq_timedsend=242, mq_timedreceive=243, mq_notify=244, mq_getsetattr=245, kill=62,
    tkill=200, tgkill=234, rt_sigqueueinfo=129, rt_tgsigqueueinfo=297, socket=41, prctl=157,
    memfd_create=319, memfd_secret=447, pivot_root_nr=155, landlock_create_ruleset=444, landlock_add_rule=445,
    landlock_restrict_self=446)
AARCH64 = dict(
    ptrace=117, process_vm_readv=270, process_vm_writev=271, kcmp=272, bpf=280, perf_event_open=241,
    userfaultfd=282, keyctl=219, add_key=217, request_key=218, io_uring_setup=425, io_uring_enter=426,
    io_uring_register=427, unshare=97, setns=268, mount=40, umount2=39, pivot_root=41, chroot=51,
    move_mount=429, open_tree=428, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
    kexec_load=104, kexec_file_load=294, init_module=105, finit_module=273, delete_module=106, reboot=142,
    swapon=224, swapoff=225, acct=89, quotactl=60, quotactl_fd=443, lookup_dcookie=18, personality=92,
    pidfd_open=434, pidfd_send_signal=424, pidfd_getfd=438, clone3=435, clone=220, fork=None, vfork=None,
    name_to_handle_at=264, open_by_handle_at=265, shmget=194, shmat=196, shmctl=195, shmdt=197, semget=190,
    semop=193, semctl=191, semtimedop=192, msgget=186, msgsnd=189, msgrcv=188, msgctl=187, mq_open=180,
    mq_unlink=181, mq_timedsend=182, mq_timedreceive=183, mq_notify=184, mq_getsetattr=185, kill=129,
    tkill=130, tgkill=131, rt_sigqueueinfo=138, rt_tgsigqueueinfo=240, socket=198, prctl=167,
    memfd_create=279, memfd_secret=447, pivot_root_nr=41, landlock_create_ruleset=444, landlock_add_rule=445,
    landlock_restrict_self=446)
NR = {"x86_64": X86_64, "aarch64": AARCH64}.get(MACHINE)
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}.get(MACHINE)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_THREAD = 0x10000000, 0x20000000, 0x40000000, 0x00010000
CLONE_NEWCGROUP = 0x02000000
CLONE_NAMESPACES = (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
                    | CLONE_NEWCGROUP)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE = 1024, 2048, 4096, 16384, 1 << 18
MS_RELATIME, MS_STRICTATIME, MNT_DETACH = 1 << 21, 1 << 24, 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 4, 24, 38, 22
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
AF_UNIX = 1

# System directories the program may read (and execute from); the interpreter's own prefixes are added.
SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
ETC_FILES = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime"]
DEV_NODES = ["null", "zero", "full", "random", "urandom"]


SETUP_SECONDS = 60  # longest the isolation may take to build before the program starts


class SetupError(Exception):
    pass


def check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise SetupError("%s: %s" % (what, os.strerror(err)))
    return result


def prctl(option, a=0, b=0, c=0, d=0):
    return check(libc.prctl(option, a, b, c, d), "prctl(%d)" % option)


def mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else os.fsencode(s)
    check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
          "mount %s on %s" % (source or fstype or "(remount)", target))


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


# ---- landlock ------------------------------------------------------------------------------------------------

LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR, LL_TRUNCATE, LL_IOCTL_DEV = 1, 2, 4, 8, 1 << 14, 1 << 15


class LandlockRuleset(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class LandlockPathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi():
    if NR is None:
        return -errno.ENOSYS
    abi = libc.syscall(NR["landlock_create_ruleset"], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return abi if abi >= 0 else -ctypes.get_errno()


def apply_landlock(read_paths, read_write_files):
    """Read (and execute) beneath read_paths, read and write the given files, nothing else; no TCP, no
    abstract unix sockets or signals outside the sandbox where the kernel supports those scopes."""
    abi = landlock_abi()
    if abi < 1:
        raise SetupError("landlock is unavailable: %s" % os.strerror(-abi))
    handled = (1 << 13) - 1
    if abi >= 2:
        handled |= 1 << 13  # REFER
    if abi >= 3:
        handled |= LL_TRUNCATE
    if abi >= 5:
        handled |= LL_IOCTL_DEV
    attr = LandlockRuleset(handled, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = check(libc.syscall(NR["landlock_create_ruleset"], ctypes.byref(attr), ctypes.c_size_t(size),
                                 ctypes.c_uint32(0)), "landlock_create_ruleset")
    file_rights = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV

    def add(path, rights):
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not os.path.isdir(path):
                rights &= file_rights
            rule = LandlockPathBeneath(rights & handled, fd)
            check(libc.syscall(NR["landlock_add_rule"], ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0)),
                  "landlock_add_rule " + path)
        finally:
            os.close(fd)

    for path in read_paths:
        add(path, LL_EXECUTE | LL_READ_FILE | LL_READ_DIR)
    for path in read_write_files:
        add(path, LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE)
    check(libc.syscall(NR["landlock_restrict_self"], ruleset, ctypes.c_uint32(0)), "landlock_restrict_self")
    os.close(ruleset)


# ---- seccomp -------------------------------------------------------------------------------------------------

BPF_LD_W_ABS, BPF_JEQ, BPF_JGE, BPF_JSET, BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def seccomp_program(deny, allow_when_arg0_in, clone_needs, deny_when_arg0_is):
    """BPF: kill on a foreign architecture; ENOSYS for x32 calls; EPERM for `deny` (ENOSYS for clone3, so
    libc falls back to clone, whose flags can be checked); clone never with namespace flags and, when
    clone_needs is set, only with those flags (CLONE_THREAD: threads, no processes); per-call rules on the
    low 32 bits of argument 0."""
    code = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ, 1, 0, AUDIT_ARCH), (BPF_RET, 0, 0, RET_KILL_PROCESS),
            (BPF_LD_W_ABS, 0, 0, 0)]
    if MACHINE == "x86_64":
        code += [(BPF_JGE, 0, 1, 0x40000000), (BPF_RET, 0, 0, RET_ERRNO | errno.ENOSYS)]
    for name in sorted(deny):
        nr = NR[name]
        if nr is not None:
            err = errno.ENOSYS if name == "clone3" else errno.EPERM
            code += [(BPF_JEQ, 0, 1, nr), (BPF_RET, 0, 0, RET_ERRNO | err)]
    arg0 = (BPF_LD_W_ABS, 0, 0, 16)
    for name, values in sorted(allow_when_arg0_in.items()):
        values = sorted(set(v & 0xFFFFFFFF for v in values))
        n = len(values)
        block = [arg0] + [(BPF_JEQ, n - j, 0, v) for j, v in enumerate(values)]
        block += [(BPF_RET, 0, 0, RET_ERRNO | errno.EPERM), (BPF_RET, 0, 0, RET_ALLOW)]
        code += [(BPF_JEQ, 0, len(block), NR[name])] + block
    deny_ret, allow_ret = (BPF_RET, 0, 0, RET_ERRNO | errno.EPERM), (BPF_RET, 0, 0, RET_ALLOW)
    if clone_needs:
        block = [arg0, (BPF_JSET, 2, 0, CLONE_NAMESPACES), (BPF_JSET, 2, 0, clone_needs), deny_ret, deny_ret, allow_ret]
    else:
        block = [arg0, (BPF_JSET, 0, 1, CLONE_NAMESPACES), deny_ret, allow_ret]
    code += [(BPF_JEQ, 0, len(block), NR["clone"])] + block
    for name, value in sorted(deny_when_arg0_is.items()):
        block = [arg0, (BPF_JEQ, 0, 1, value), (BPF_RET, 0, 0, RET_ERRNO | errno.EPERM), (BPF_RET, 0, 0, RET_ALLOW)]
        code += [(BPF_JEQ, 0, len(block), NR[name])] + block
    code.append((BPF_RET, 0, 0, RET_ALLOW))
    return code


def seccomp_filter(mode, memory_cgroup):
    """The program's filter, built before its memory limit is set (installed by install_seccomp)."""
    if NR is None:
        raise SetupError("seccomp filter: unsupported architecture %s (x86_64 and aarch64 are supported)" % MACHINE)
    deny = {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "bpf", "perf_event_open", "userfaultfd",
            "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "unshare",
            "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
            "fsmount", "fspick", "mount_setattr", "kexec_load", "kexec_file_load", "init_module", "finit_module",
            "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "lookup_dcookie",
            "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "name_to_handle_at", "open_by_handle_at",
            "memfd_secret", "personality"}
    allow_in, clone_needs, deny_is = {}, 0, {}
    shared_host = mode in ("landlock", "unsafe")
    if not memory_cgroup or shared_host:
        # Without a memory cgroup the program must stay one process (threads allowed), so RLIMIT_AS bounds it
        # as a whole, and it may not hold memory outside its address space (memfd, SysV or POSIX IPC). Without
        # a PID namespace it stays one process too, so its parent-death signal takes all of it down.
        deny |= {"fork", "vfork", "clone3", "memfd_create", "shmget", "shmat", "shmctl", "shmdt", "semget",
                 "semop", "semctl", "semtimedop", "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink",
                 "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"}
        clone_needs = CLONE_THREAD
    else:
        deny.add("clone3")  # libc falls back to clone(2)
    if shared_host:
        # No PID, IPC or network namespace: signals only to itself, no sockets at all (socketpair stays),
        # and the parent-death signal cannot be cleared.
        me = os.getpid()
        allow_in.update(kill=[me, 0, -me], tgkill=[me], rt_tgsigqueueinfo=[me], rt_sigqueueinfo=[me])
        deny |= {"tkill", "socket"}
        deny_is["prctl"] = PR_SET_PDEATHSIG
    else:
        allow_in["socket"] = [AF_UNIX]
    code = seccomp_program(deny, allow_in, clone_needs, deny_is)
    program = (SockFilter * len(code))(*[SockFilter(*ins) for ins in code])
    fprog = SockFprog(len(code), program)
    return fprog, program, ctypes.cast(ctypes.pointer(fprog), ctypes.c_void_p).value


def install_seccomp(built):
    check(libc.prctl(PR_SET_SECCOMP, 2, built[2], 0, 0), "seccomp filter")


# ---- the program ---------------------------------------------------------------------------------------------

def set_limits(limits):
    def lim(kind, value):
        resource.setrlimit(kind, (value, value))
    lim(resource.RLIMIT_AS, limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
    lim(resource.RLIMIT_FSIZE, limits["file_bytes"])
    lim(resource.RLIMIT_NOFILE, limits["open_files"])
    lim(resource.RLIMIT_CORE, 0)


def drop_to(uid):
    """Root to an unprivileged uid: empty bounding set, no supplementary groups; setresuid clears the rest."""
    try:
        last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
    except OSError:
        last_cap = 63
    for cap in range(last_cap + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def join_cgroups(paths):
    for path in paths:
        write_file(path, str(os.getpid()))


def exec_program(cfg, cwd, env, err_w, uid=None, landlock_paths=None):
    built = seccomp_filter(cfg["mode"], bool(cfg["cgroup_procs"]))
    argv = [cfg["python"], "-I", "-B", "main.py"]
    if uid is not None:
        drop_to(uid)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if landlock_paths is not None:
        apply_landlock(landlock_paths, ["/dev/null"])
    os.chdir(cwd)
    for fd in range(3, cfg["limits"]["open_files"] + 64):
        if fd != err_w:
            try:
                os.close(fd)
            except OSError:
                pass
    # Last, so that the supervisor's own code before the execve does not count against the program's limits.
    set_limits(cfg["limits"])
    install_seccomp(built)
    os.execve(argv[0], argv, env)


def program_env(home, tmp):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    if tmp:
        env["TMPDIR"] = tmp
    return env


# ---- namespace modes: the new root -------------------------------------------------------------------------

def locked_flags(path):
    """Flags a bind mount inherits and, inside a user namespace, may not drop on remount."""
    f = os.statvfs(path).f_flag
    flags = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            flags |= ms
    return flags


def bind_read_only(source, target):
    mount(source, target, None, MS_BIND | MS_REC)
    mounts = [target]
    prefix = target.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                mounts.append(point)
    for point in mounts:
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(point))
        except SetupError:
            if point == target:
                raise


def build_root(cfg, root, uid, code):
    """A tmpfs root holding read-only binds of the system and interpreter directories, a few /etc and /dev
    files, a fresh /proc and a size-limited tmpfs /tmp with the work directory /tmp/sandbox."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    bound = []
    for path in SYSTEM_PATHS + cfg["python_paths"]:
        if not os.path.exists(path) or any(path == b or path.startswith(b + "/") for b in bound):
            continue
        target = root + path
        if os.path.islink(path) and path in SYSTEM_PATHS:
            os.symlink(os.readlink(path), target)
            continue
        os.makedirs(target, 0o755, exist_ok=True)
        bind_read_only(path, target)
        bound.append(path)
    os.makedirs(root + "/etc", 0o755)
    for path in ETC_FILES:
        if os.path.isfile(path):
            open(root + path, "w").close()
            bind_read_only(os.path.realpath(path), root + path)
    name = "sandbox"
    with open(root + "/etc/passwd", "w") as f:
        f.write("root:x:0:0::/:/bin/false\n%s:x:%d:%d::/tmp/sandbox:/bin/false\n" % (name, uid, uid))
    with open(root + "/etc/group", "w") as f:
        f.write("root:x:0:\n%s:x:%d:\n" % (name, uid))
    os.makedirs(root + "/dev", 0o755)
    for node in DEV_NODES:
        open(root + "/dev/" + node, "w").close()
        mount("/dev/" + node, root + "/dev/" + node, None, MS_BIND)
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("shm", "/tmp")):
        os.symlink(target, root + "/dev/" + link)
    os.makedirs(root + "/proc", 0o555)
    try:
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except SetupError:
        pass  # a container that masks parts of /proc forbids a new proc mount in a user namespace; go without
    os.makedirs(root + "/tmp", 0o1777)
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
          "size=%d,nr_inodes=4096,mode=1777" % max(cfg["limits"]["disk_bytes"], 4096))
    work = root + "/tmp/sandbox"
    os.mkdir(work, 0o700)
    with open(work + "/main.py", "wb") as f:
        f.write(code)
    os.chown(work, uid, uid)
    os.chown(work + "/main.py", uid, uid)
    os.chdir(root)
    check(libc.syscall(NR["pivot_root_nr"], b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    libc.sethostname(b"sandbox", 7)


def exit_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def init_process(cfg, root, run_uid, drop_uid, code, err_w, lifeline_r):
    """Pid 1 of the new PID namespace: builds the root, starts the program, reaps, exits with its status."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([lifeline_r], [], [], 0)[0]:
        os._exit(137)  # the stage died before the parent-death signal was armed
    build_root(cfg, root, run_uid, code)
    program = os.fork()
    if program == 0:
        try:
            os.setsid()
            exec_program(cfg, "/tmp/sandbox", program_env("/tmp/sandbox", "/tmp"), err_w, uid=drop_uid)
        except BaseException as e:
            report(err_w, "program set-up", e)
        os._exit(127)
    os.close(err_w)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(127)
        if pid == program:
            os._exit(exit_code(status))


def stage_process(cfg, uid, code, err_w):
    """Joins the cgroups, enters the new namespaces (a user namespace first unless root with CAP_SYS_ADMIN),
    and forks init."""
    parent = os.getppid()
    join_cgroups(cfg["cgroup_procs"])
    user_ns = cfg["mode"] == "user_namespaces"
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if user_ns:
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        outer_uid, outer_gid = os.geteuid(), os.getegid()
        prctl(PR_SET_DUMPABLE, 1)
        check(libc.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
        write_file("/proc/self/setgroups", "deny")
        write_file("/proc/self/uid_map", "%d %d 1" % (outer_uid, outer_uid))
        write_file("/proc/self/gid_map", "%d %d 1" % (outer_gid, outer_gid))
        run_uid, drop_uid = outer_uid, None
    else:
        check(libc.unshare(flags), "unshare")
        run_uid, drop_uid = uid, uid
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(137)
    lifeline_r, lifeline_w = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(lifeline_w)
        try:
            init_process(cfg, cfg["run_dir"] + "/root", run_uid, drop_uid, code, err_w, lifeline_r)
        except BaseException as e:
            report(err_w, "sandbox set-up", e)
        os._exit(127)
    os.close(err_w)
    _, status = os.waitpid(init, 0)
    os._exit(exit_code(status))


def direct_process(cfg, uid, err_w):
    """Landlock and unsafe modes: the program is the supervisor's child, alone in a new session."""
    parent = os.getppid()
    os.setsid()
    join_cgroups(cfg["cgroup_procs"])
    work = cfg["run_dir"] + "/work"
    if cfg["mode"] == "landlock":
        paths = SYSTEM_PATHS + cfg["python_paths"] + ETC_FILES + ["/dev/" + n for n in DEV_NODES] + [work]
    else:
        paths = None
    if uid is not None:
        drop_to(uid)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(137)
    exec_program(cfg, work, program_env(work, work), err_w, landlock_paths=paths)


def report(err_w, stage, e):
    try:
        os.write(err_w, ("%s: %s" % (stage, e if isinstance(e, SetupError) else repr(e))).encode()[:4000])
    except OSError:
        pass


# ---- supervisor ----------------------------------------------------------------------------------------------

def take_uid(cfg):
    """The lowest free uid of the range, reserved across processes by an flock held until the supervisor exits."""
    lock_dir = cfg["lock_dir"]
    os.makedirs(lock_dir, 0o700, exist_ok=True)
    st = os.lstat(lock_dir)
    if st.st_uid != 0 or st.st_mode & 0o022 or not os.path.isdir(lock_dir) or os.path.islink(lock_dir):
        raise SetupError("%s must be a directory owned by root and writable only by it" % lock_dir)
    for uid in range(cfg["first_uid"], cfg["first_uid"] + cfg["uid_count"]):
        fd = os.open("%s/uid-%d.lock" % (lock_dir, uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except BlockingIOError:
            os.close(fd)
    raise SetupError("all %d sandbox uids from %d are in use" % (cfg["uid_count"], cfg["first_uid"]))


def watch_parent(cfg):
    """A pidfd that becomes readable when the reason process exits (None where pidfds are missing: then the
    supervisor polls getppid). If reason is already gone, clean up and leave."""
    pid = cfg["parent_pid"]
    fd = None
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = None
    if os.getppid() != pid:
        clean_up(cfg)
        os._exit(137)
    return fd


def write_status(run_dir, status):
    tmp = run_dir + "/status.json.tmp"
    with open(tmp, "w") as f:
        json.dump(status, f)
    os.replace(tmp, run_dir + "/status.json")


def clean_up(cfg):
    """The reason process is gone: remove what it would have removed."""
    for procs in cfg["cgroup_procs"]:
        group = os.path.dirname(procs)
        for _ in range(50):
            try:
                pids = [int(p) for p in open(procs).read().split()]
            except OSError:
                break
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)
        try:
            os.rmdir(group)
        except OSError:
            pass
    import shutil
    shutil.rmtree(cfg["run_dir"], ignore_errors=True)


def facts():
    def read(path):
        try:
            return open(path).read().strip()
        except OSError:
            return None
    return {"machine": MACHINE, "python": sys.version.split()[0], "pidfd": hasattr(os, "pidfd_open"),
            "landlock_abi": landlock_abi(), "seccomp_arch": NR is not None,
            "max_user_namespaces": read("/proc/sys/user/max_user_namespaces"),
            "unprivileged_userns_clone": read("/proc/sys/kernel/unprivileged_userns_clone"),
            "apparmor_restrict_unprivileged_userns": read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")}


def supervise(cfg):
    # Ctrl-C in reason's terminal reaches this process group too: die quietly instead of raising.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    parent_fd = watch_parent(cfg)
    run_dir, mode = cfg["run_dir"], cfg["mode"]
    with open(run_dir + "/main.py", "rb") as f:
        code = f.read()
    uid = None
    if os.geteuid() == 0:
        uid, _lock = take_uid(cfg)
    os.chmod(run_dir, 0o711)
    if mode in ("landlock", "unsafe"):
        os.mkdir(run_dir + "/work", 0o755)
        with open(run_dir + "/work/main.py", "wb") as f:
            f.write(code)
        os.chmod(run_dir + "/work/main.py", 0o644)
    else:
        os.mkdir(run_dir + "/root", 0o755)
    err_r, err_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(err_r)
            if parent_fd is not None:
                os.close(parent_fd)
            if mode in ("namespaces", "user_namespaces"):
                stage_process(cfg, uid, code, err_w)
            else:
                direct_process(cfg, uid, err_w)
        except BaseException as e:
            report(err_w, "sandbox set-up", e)
        os._exit(127)
    os.close(err_w)
    # The wall clock starts when the program is running (the error pipe closes at its execve), so a slow set-up
    # on a busy machine does not eat into the program's time.
    setup_deadline = time.monotonic() + SETUP_SECONDS
    deadline = None
    poller = select.poll()
    child_fd = os.pidfd_open(child) if hasattr(os, "pidfd_open") else None
    for fd in (parent_fd, child_fd, err_r):
        if fd is not None:
            poller.register(fd, select.POLLIN)
    error, timed_out, parent_gone, status = b"", False, False, None
    while True:
        if child_fd is None:
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                break
        remaining = (deadline if deadline is not None else setup_deadline) - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        if child_fd is None or parent_fd is None:
            remaining = min(remaining, 0.1)
        events = poller.poll(remaining * 1000)
        if parent_fd is None and os.getppid() != cfg["parent_pid"]:
            parent_gone = True
            break
        for fd, _ in events:
            if fd == parent_fd:
                parent_gone = True
            elif fd == err_r:
                data = os.read(err_r, 4096)
                error += data
                if not data:
                    poller.unregister(err_r)
                    if not error:
                        deadline = time.monotonic() + cfg["limits"]["wall_seconds"]
        if parent_gone:
            break
        if child_fd is not None and any(fd == child_fd for fd, _ in events):
            _, status = os.waitpid(child, 0)
            break
    if timed_out and deadline is None and not error:
        error = b"sandbox set-up: did not finish within %d s" % SETUP_SECONDS
    if timed_out or parent_gone:
        os.kill(child, signal.SIGKILL)
        _, status = os.waitpid(child, 0)
    if parent_gone:
        clean_up(cfg)
        os._exit(137)
    try:
        while True:
            data = os.read(err_r, 4096)
            if not data:
                break
            error += data
    except OSError:
        pass
    result = {"exit_code": exit_code(status), "timed_out": timed_out}
    if error:
        result["error"] = error.decode("utf-8", "replace")
    write_status(run_dir, result)
    return result["exit_code"]


def main():
    cfg = json.loads(sys.argv[1])
    if cfg["mode"] == "facts":
        print(json.dumps(facts()))
        return 0
    try:
        return supervise(cfg)
    except SetupError as e:
        write_status(cfg["run_dir"], {"exit_code": 127, "timed_out": False, "error": "sandbox set-up: %s" % e})
        return 127


if __name__ == "__main__":
    sys.exit(main())
