"""A private one-node Slurm cluster for tests: munge (reused if running), and slurmctld + slurmd
on their own ports with their own state, spool and log directories, configured through
SLURM_CONF so nothing of another Slurm on the machine is touched. Needs root and Debian's
slurmctld, slurmd, slurm-client and munge."""
import os
import shutil
import signal
import socket
import subprocess
import time

PACKAGES = ("slurmctld", "slurmd", "sbatch", "munged")


def missing_programs():
    paths = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    return [p for p in PACKAGES if not shutil.which(p, path=os.pathsep.join(paths))]


def free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class OneNodeSlurm:
    def __init__(self, directory):
        self.dir = directory
        self.conf = os.path.join(directory, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        self.started_munge = False

    def command(self, *args, check=True):
        result = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def start(self):
        self._start_munge()
        host = socket.gethostname().split(".")[0]
        for sub in ("state", "spool"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        free_mib = int(open("/proc/meminfo").read().split("MemAvailable:")[1].split()[0]) // 1024
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(f"""ClusterName=kmoetest
SlurmctldHost={host}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
NodeName={host} CPUs={os.cpu_count()} RealMemory={max(1, free_mib // 2)} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        subprocess.run(["slurmctld", "-f", self.conf], env=self.env, check=True, timeout=60)
        subprocess.run(["slurmd", "-f", self.conf], env=self.env, check=True, timeout=60)
        deadline = time.time() + 60
        while time.time() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True).stdout
            if state.strip() == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError("the test Slurm did not come up; see " + self.dir + "/slurmctld.log and slurmd.log")

    def _start_munge(self):
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
            return
        os.makedirs("/run/munge", exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", "munged"], check=True, timeout=60)
        self.started_munge = True

    def stop(self):
        """Terminates the daemons and waits for them: slurmctld saves its state on the way out,
        into the directory the caller removes next."""
        stopping = []
        for name in ("slurmd", "slurmctld"):
            pid_file = os.path.join(self.dir, name + ".pid")
            try:
                pid = int(open(pid_file).read())
                os.kill(pid, signal.SIGTERM)
                stopping.append(pid)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 60
        while stopping and time.monotonic() < deadline:
            stopping = [pid for pid in stopping if _running(pid)]
            time.sleep(0.2)
        if self.started_munge:
            subprocess.run(["pkill", "-x", "munged"])


def _running(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
