#!/usr/bin/env bash
# Runs a command under gdb and, at the first fault, prints every thread's stack before the Go
# runtime sees the signal. Exits with the command's own status.
#
#   scripts/debug/gdb.sh bin/strata smoke
#   scripts/debug/gdb.sh target/debug-build/strata.test -test.run TestX
#   scripts/debug/gdb.sh --attach PID        # a hung process: every thread's stack, then detach
#
# Why: a fault in Rust code reaches the Go runtime's signal handler, which prints Go's view
# ("signal SIGSEGV: segmentation violation ... PC=0x... m=3 sigcode=1", goroutines) and exits 2,
# while the Rust frames that faulted are only in the stack of the thread that took the signal.
# gdb stops the process when the kernel delivers the fault, before any handler runs, so
# `thread apply all bt` shows the faulting thread's Rust frames first-hand, with every other
# thread (Go's, and strata's: the front thread and each database's) as it was.
#
# The signals the Go runtime uses in normal operation (SIGURG for preemption, SIGPIPE, SIGPROF,
# SIGCHLD, SIGWINCH) and the ones a program may catch with os/signal (SIGINT, SIGTERM, SIGHUP,
# SIGQUIT, SIGUSR1, SIGUSR2) pass straight through without stopping. Faults (SIGSEGV, SIGBUS,
# SIGFPE, SIGILL) and SIGABRT (GOTRACEBACK=crash ends with it) stop the program; the
# stacks are printed at the first stop, then the signal is passed on, so the program's own
# handler (Go's traceback, a crash report) still runs and the process ends as it would have.
# A Go nil dereference is a SIGSEGV too: it stops here although Go would turn it into a panic.
#
# Status: the command's exit status; 128 + N when signal N killed it (139 for SIGSEGV, 134 for
# SIGABRT), as a shell reports it.
set -euo pipefail

if ! command -v gdb >/dev/null; then
    echo "gdb.sh: gdb is not installed (apt-get install -y gdb)" >&2
    exit 127
fi
if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]   or   $0 --attach PID" >&2
    exit 2
fi

common=(
    -nx -batch -q
    -iex 'set pagination off'
    -iex 'set confirm off'
    -iex 'set print thread-events off'
    -iex 'set print inferior-events off'
    # Go's runtime-gdb.py helpers would be declined with a warning on every run; they add
    # little to the native stacks printed here.
    -iex 'set auto-load python-scripts off'
)

if [ "$1" = "--attach" ]; then
    [ $# -eq 2 ] || { echo "usage: $0 --attach PID" >&2; exit 2; }
    exec gdb "${common[@]}" -p "$2" \
        -ex 'echo \n=== gdb.sh: stacks of every thread\n' \
        -ex 'thread apply all bt' \
        -ex 'detach'
fi

script=$(mktemp --suffix=.py)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'PY'
# Driven from Python rather than gdb's command language: a gdb command that fails (as
# `continue` does when a multi-threaded process dies of its signal: "Couldn't get registers")
# would abort a command file, and gdb would exit 1 instead of with the program's status.
import gdb

def run(cmd):
    try:
        gdb.execute(cmd)
        return True
    except gdb.error as err:
        print("=== gdb.sh: %s: %s" % (cmd, err))
        return False

def value(name):
    v = gdb.convenience_variable(name)
    return None if v is None else int(v)

# Arguments reach the program as given, not re-split by a shell.
gdb.execute("set startup-with-shell off")
gdb.execute("handle SIGURG SIGPIPE SIGPROF SIGCHLD SIGWINCH nostop noprint pass")
gdb.execute("handle SIGINT SIGTERM SIGHUP SIGQUIT SIGUSR1 SIGUSR2 nostop print pass")
gdb.execute("handle SIGSEGV SIGBUS SIGFPE SIGILL SIGABRT stop print pass")

def status():
    """The exit status to report once the program is no longer running."""
    stops = 0
    signo = 0
    if not run("run"):
        return 1
    while gdb.selected_inferior().pid != 0:
        if stops == 10:
            print("\n=== gdb.sh: still stopping after 10 signals; killing the program")
            run("kill")
            return 128 + signo
        stops += 1
        info = gdb.parse_and_eval("$_siginfo")
        signo, code = int(info["si_signo"]), int(info["si_code"])
        if stops == 1:
            # si_code > 0: the kernel raised it for a faulting instruction; <= 0: kill, tgkill
            # or raise sent it.
            if code > 0:
                origin = "a fault at address %s" % info["_sifields"]["_sigfault"]["si_addr"]
            else:
                origin = "sent by kill/tgkill/raise (si_code %d), not a fault" % code
            print("\n=== gdb.sh: signal %d stopped the program: %s" % (signo, origin))
            print("=== the thread that took it, then every thread:")
            run("x/i $pc")
            run("bt")
            run("thread apply all bt")
            print("\n=== gdb.sh: passing signal %d on to the program" % signo)
        else:
            print("\n=== gdb.sh: signal %d again, passed on" % signo)
        if not run("continue"):
            # gdb loses track of a multi-threaded process that the signal just killed
            # ("Couldn't get registers: No such process"): it died of that signal.
            run("kill")
            return 128 + signo
    exit_signal = value("_exitsignal")
    if exit_signal is not None:
        return 128 + exit_signal
    return value("_exitcode") or 0

code = 1
try:
    code = status()
finally:
    gdb.execute("quit %d" % code)
PY

exec gdb "${common[@]}" -x "$script" --args "$@"
