"""Run a Mosquitto broker for the bridge: a private CA, the config, the process.

What ``kota broker`` and the test fixture share:

- :func:`ensure_ca` / :func:`make_ca`: a CA and a server certificate for
  ``localhost`` / ``127.0.0.1`` made with ``openssl`` (kept and reused while valid);
- :class:`MosquittoBroker`: the ``passwd`` and ``acl`` of a
  :class:`~hardware_bridge.devices.DeviceRegistry` and a ``mosquitto.conf`` with one
  TLS listener, no anonymous clients, ``max_queued_messages 0`` (the default of 1000
  drops QoS 1 messages to a subscriber that falls behind; STACK.md §5) and
  persistence, so a QoS 1 session survives a restart; then the broker as a child
  process (:meth:`~MosquittoBroker.start`) or a daemon with a pid file
  (:meth:`~MosquittoBroker.start_daemon`, :func:`stop_daemon`).

As root, Mosquitto drops to the ``mosquitto`` user after start-up, so the files it
reads and writes later (persistence, log, the password file on reload) are given to
that user (:func:`give_to_mosquitto`); the CA's private key is not.

Errors a user can fix raise :class:`MosquittoError` (or its subclasses
:class:`MosquittoMissing`, :class:`PortInUse`) with a message saying how.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .devices import BRIDGE_USER, DeviceRegistry
from .mqtt_client import BrokerConfig

__all__ = [
    "INSTALL_HINT",
    "BrokerCA",
    "MosquittoBroker",
    "MosquittoError",
    "MosquittoMissing",
    "PortInUse",
    "check_port",
    "daemon_pid",
    "ensure_ca",
    "find_mosquitto",
    "give_to_mosquitto",
    "make_ca",
    "port_in_use",
    "stop_daemon",
    "unreachable_by_mosquitto",
]

INSTALL_HINT = ("install the Debian packages 'mosquitto' (the broker and mosquitto_passwd) and "
                "'mosquitto-clients' (mosquitto_pub/sub): sudo apt-get install mosquitto mosquitto-clients")
_SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_RUNNING = re.compile(r"mosquitto version \S+ running")
# brokers started in the background by this process, by pid, so that stopping one reaps it
_BACKGROUND: dict[int, subprocess.Popen[bytes]] = {}


class MosquittoError(RuntimeError):
    """The broker cannot be set up or started; the message says why and what to do."""


class MosquittoMissing(MosquittoError):
    """``mosquitto``, ``mosquitto_passwd`` or ``openssl`` is not installed."""


class PortInUse(MosquittoError):
    """Another process listens on the broker's port."""


def find_mosquitto(path: str | None = None) -> tuple[str, str]:
    """Paths of ``mosquitto`` and ``mosquitto_passwd``.

    Parameters
    ----------
    path : str or None, directories to search (``os.pathsep``-separated); default
        ``$PATH`` and the sbin directories (Debian installs the broker in ``/usr/sbin``)

    Raises
    ------
    MosquittoMissing : either is missing, with the packages to install
    """
    if path is None:
        path = os.pathsep.join([os.environ.get("PATH", ""), *_SEARCH_PATH])
    found = [shutil.which(name, path=path) for name in ("mosquitto", "mosquitto_passwd")]
    missing = [name for name, p in zip(("mosquitto", "mosquitto_passwd"), found, strict=True) if p is None]
    if missing:
        raise MosquittoMissing(f"{' and '.join(missing)} not found; {INSTALL_HINT}")
    return found[0] or "", found[1] or ""


def give_to_mosquitto(paths: Iterable[Path], *, recursive: bool = True) -> None:
    """As root, make ``paths`` (and with ``recursive`` what directories hold) owned by ``mosquitto``.

    Mosquitto started as root drops to that user; it must still read its password
    file on reload and write its persistence. Does nothing for other users, or when
    there is no ``mosquitto`` user (the broker then keeps running as root).
    """
    if os.geteuid() != 0:
        return
    try:
        for path in paths:
            shutil.chown(path, "mosquitto", "mosquitto")
            if recursive and path.is_dir():
                for p in path.rglob("*"):
                    shutil.chown(p, "mosquitto", "mosquitto")
    except (LookupError, PermissionError):
        pass


def unreachable_by_mosquitto(directory: Path) -> Path | None:
    """As root, the first directory on the way to ``directory`` the ``mosquitto`` user cannot enter.

    None when all can be entered, when not root, or when there is no ``mosquitto`` user.
    """
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        user = pwd.getpwnam("mosquitto")
    except (ImportError, KeyError):
        return None
    directory = directory.resolve()
    for d in (*reversed(directory.parents), directory):
        st = d.stat()
        if st.st_uid == user.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid == user.pw_gid:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return d
    return None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` cannot be bound (as Mosquitto binds it, with ``SO_REUSEADDR``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _port_taken(port: int, host: str) -> str:
    return (f"port {port} on {host} is taken by another process (see `ss -ltnp 'sport = :{port}'`); "
            "choose another port")


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Raise :class:`PortInUse` if ``host:port`` is taken."""
    if port_in_use(port, host):
        raise PortInUse(_port_taken(port, host))


# -- certificates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerCA:
    """A private CA and the broker's server certificate for ``localhost`` / ``127.0.0.1``.

    Attributes
    ----------
    directory : Path, holds ``ca.crt``, ``ca.key``, ``server.crt``, ``server.key``
    ca_cert : Path, what clients verify the broker with (``--ca`` of kota bridge/emulate)
    server_cert, server_key : Path, the broker's certificate and key
    """

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def at(cls, directory: Path) -> BrokerCA:
        """The file layout in ``directory`` (the files may not exist yet)."""
        return cls(directory, directory / "ca.crt", directory / "server.crt", directory / "server.key")

    @property
    def broker_files(self) -> tuple[Path, ...]:
        """What the broker reads (not the CA's private key)."""
        return (self.ca_cert, self.server_cert, self.server_key)


def _openssl(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("openssl")
    if tool is None:
        raise MosquittoMissing("openssl not found; install the Debian package 'openssl'")
    return subprocess.run([tool, *args], cwd=directory, capture_output=True, text=True,
                          timeout=60, check=False)


def _run_openssl(directory: Path, *args: str) -> None:
    proc = _openssl(directory, *args)
    if proc.returncode != 0:
        raise MosquittoError(f"openssl {args[0]} failed in {directory}: {proc.stderr.strip()}")


def _valid_for(cert: Path, seconds: int) -> bool:
    """Whether ``cert`` exists and is still valid ``seconds`` from now."""
    if not cert.is_file():
        return False
    proc = _openssl(cert.parent, "x509", "-checkend", str(seconds), "-noout", "-in", cert.name)
    return proc.returncode == 0


def _server_cert(ca: BrokerCA, days: int) -> None:
    d = ca.directory
    _run_openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                 "-keyout", "server.key", "-out", "server.csr")
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n", encoding="utf-8")
    _run_openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", str(days), "-extfile", "san.ext", "-out", "server.crt")
    os.chmod(ca.server_key, 0o600)


def make_ca(directory: Path, *, days: int = 2, name: str = "kota-test-ca") -> BrokerCA:
    """Generate a new CA and a server certificate signed by it into ``directory``.

    Parameters
    ----------
    directory : Path, created if needed; existing files are replaced
    days : int, validity of both certificates
    name : str, the CA's common name

    Raises
    ------
    MosquittoMissing : no ``openssl``
    MosquittoError : ``openssl`` failed
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca = BrokerCA.at(directory)
    _run_openssl(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
                 "-subj", f"/CN={name}", "-keyout", "ca.key", "-out", "ca.crt")
    os.chmod(directory / "ca.key", 0o600)
    _server_cert(ca, days)
    return ca


def ensure_ca(directory: Path, *, days: int = 825, name: str = "kota-local-ca") -> tuple[BrokerCA, bool]:
    """The CA in ``directory``, made once and reused while it stays valid for a day.

    A server certificate that is missing or expiring is signed again by the same CA
    (clients keep their ``ca.crt``); a missing or expiring CA is made anew.

    Returns
    -------
    (BrokerCA, bool) : the CA and whether anything was (re)generated
    """
    ca = BrokerCA.at(directory)
    day_s = 86_400
    if not (_valid_for(ca.ca_cert, day_s) and (directory / "ca.key").is_file()):
        return make_ca(directory, days=days, name=name), True
    if not (_valid_for(ca.server_cert, day_s) and ca.server_key.is_file()):
        _server_cert(ca, days)
        return ca, True
    return ca, False


# -- the broker ---------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _pid_in(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):  # none, or being written
        return None


def daemon_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is a running Mosquitto, else None."""
    pid = _pid_in(pid_file)
    if pid is None or not _pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"mosquitto" in cmdline else None  # not a pid reused by something else


def stop_daemon(pid_file: Path, timeout_s: float = 10.0) -> int | None:
    """Stop the Mosquitto whose pid is in ``pid_file`` (SIGTERM: it saves its persistence).

    Returns the pid stopped, or None when none was running (a stale pid file is removed).

    Raises
    ------
    MosquittoError : it did not exit within ``timeout_s``
    """
    pid = daemon_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    child = _BACKGROUND.pop(pid, None)
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and (child is None or child.poll() is None):
        if time.monotonic() > deadline:
            raise MosquittoError(f"mosquitto (pid {pid}) did not stop within {timeout_s:g} s "
                                 f"after SIGTERM; kill -9 {pid}")
        time.sleep(0.02)
    pid_file.unlink(missing_ok=True)
    return pid


@dataclass
class MosquittoBroker:
    """A Mosquitto with one TLS listener, configured from a device registry.

    Attributes
    ----------
    directory : Path, config, password and ACL files, pid file, log and persistence
    port : int, the TLS listener
    ca : BrokerCA, whose server certificate the listener presents
    bridge_password : str, password of :data:`~hardware_bridge.devices.BRIDGE_USER`
    max_inflight_messages : int, QoS 1 messages in flight to each client
    host : str, the listener's address (the certificate names ``127.0.0.1`` and ``localhost``)
    """

    directory: Path
    port: int
    ca: BrokerCA
    bridge_password: str
    max_inflight_messages: int = 20
    host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.directory = self.directory.resolve()  # the daemon runs in /: the conf names absolute paths

    @property
    def conf_file(self) -> Path:
        """``mosquitto.conf``."""
        return self.directory / "mosquitto.conf"

    @property
    def pid_file(self) -> Path:
        """``mosquitto.pid``, written by the broker while it runs."""
        return self.directory / "mosquitto.pid"

    @property
    def log_file(self) -> Path:
        """``mosquitto.log``."""
        return self.directory / "mosquitto.log"

    @property
    def url(self) -> str:
        """``mqtts://HOST:PORT``."""
        return f"mqtts://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The pid of the child process started by :meth:`start` (None when not started)."""
        return None if self._proc is None else self._proc.pid

    @property
    def log_text(self) -> str:
        """The broker's log so far (for error messages)."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def config(self, username: str, password: str, **kwargs: int) -> BrokerConfig:
        """Connection settings for a client of this broker."""
        return BrokerConfig.from_url(self.url, ca_file=self.ca.ca_cert, username=username,
                                     password=password, **kwargs)

    def bridge_config(self, **kwargs: int) -> BrokerConfig:
        """Connection settings of the bridge account."""
        return self.config(BRIDGE_USER, self.bridge_password, **kwargs)

    def write_config(self, registry: DeviceRegistry) -> Path:
        """Write ``passwd``, ``acl`` and ``mosquitto.conf`` for ``registry``; the conf's path.

        Raises
        ------
        FileNotFoundError : no ``mosquitto_passwd`` (from ``registry.write_mosquitto_files``)
        """
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        passwd, acl = registry.write_mosquitto_files(d, self.bridge_password, find_mosquitto()[1])
        (d / "persist").mkdir(exist_ok=True)
        self.conf_file.write_text("\n".join([
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {acl}",
            "max_queued_messages 0",
            f"max_inflight_messages {self.max_inflight_messages}",
            "persistence true",
            f"persistence_location {d / 'persist'}/",
            "autosave_interval 1800",
            f"pid_file {self.pid_file}",
            f"log_dest file {self.log_file}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            f"listener {self.port} {self.host}",
            f"cafile {self.ca.ca_cert.resolve()}",
            f"certfile {self.ca.server_cert.resolve()}",
            f"keyfile {self.ca.server_key.resolve()}",
            "tls_version tlsv1.2",
            "",
        ]), encoding="utf-8")
        # not recursively: the CA's directory (and its private key) may be inside ``d``
        give_to_mosquitto([d, passwd, acl, self.conf_file, self.ca.directory, *self.ca.broker_files,
                           *([self.log_file] if self.log_file.exists() else [])], recursive=False)
        give_to_mosquitto([d / "persist"])
        blocked = unreachable_by_mosquitto(d)
        if blocked is not None:
            raise MosquittoError(f"the broker drops to the user 'mosquitto', which cannot enter {blocked} "
                                 f"(mode {blocked.stat().st_mode & 0o777:o}); use a directory it can reach "
                                 f"or `chmod o+x {blocked}`")
        return self.conf_file

    def _check_port(self) -> None:
        check_port(self.port, self.host)

    def _log_offset(self) -> int:
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _listening(self, offset: int) -> bool:
        """Whether the broker logged, since ``offset``, that it runs (its listener is open by then).

        Reading the log rather than connecting keeps a probe's aborted TLS handshake out of it.
        """
        return _RUNNING.search(self._log_since(offset)) is not None

    def _failure(self, returncode: int | None, stderr: str, offset: int) -> MosquittoError:
        text = f"{stderr}\n{self._log_since(offset)}".strip()
        if "Address already in use" in text:
            return PortInUse(f"{_port_taken(self.port, self.host)}\n{text}")
        return MosquittoError(f"mosquitto exited{'' if returncode is None else f' ({returncode})'} at "
                              f"start-up:\n{text}")

    def _timeout(self, timeout_s: float, offset: int) -> MosquittoError:
        return MosquittoError(f"mosquitto did not start listening on {self.host}:{self.port} within "
                              f"{timeout_s:g} s\n{self._log_since(offset)}")

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker as a child process; return once its listener is open.

        Raises
        ------
        MosquittoMissing, PortInUse, MosquittoError
        """
        binary, _ = find_mosquitto()
        self._check_port()
        offset = self._log_offset()
        self._proc = proc = subprocess.Popen([binary, "-c", str(self.conf_file)],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while not self._listening(offset):
            if proc.poll() is not None:
                self._proc = None
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise self._failure(proc.returncode, err, offset)
            if time.monotonic() > deadline:
                self.stop()
                raise self._timeout(timeout_s, offset)
            time.sleep(0.02)

    @property
    def stderr_file(self) -> Path:
        """What a background broker printed to stderr (errors from before its log is open)."""
        return self.directory / "mosquitto.stderr"

    def start_daemon(self, timeout_s: float = 10.0) -> int:
        """Start the broker in the background, in its own session; its pid once its listener is open.

        It is not started with ``mosquitto -d``: a daemonised Mosquitto sends stderr to
        ``/dev/null``, and errors from before its log file is open (a persistence file it
        cannot restore, for one) would leave nothing to show. Here stderr goes to
        :attr:`stderr_file`, and the pid is the child's own. Stop it with
        :func:`stop_daemon` on :attr:`pid_file`.

        Raises
        ------
        MosquittoMissing, PortInUse, MosquittoError
        """
        binary, _ = find_mosquitto()
        self._check_port()
        self.pid_file.unlink(missing_ok=True)
        offset = self._log_offset()
        with open(self.stderr_file, "wb") as err:
            proc = subprocess.Popen([binary, "-c", str(self.conf_file)], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        _BACKGROUND[proc.pid] = proc  # reaped by stop_daemon when it runs in this process
        deadline = time.monotonic() + timeout_s
        while not (self._listening(offset) and daemon_pid(self.pid_file) == proc.pid):
            if proc.poll() is not None:
                _BACKGROUND.pop(proc.pid, None)
                raise self._failure(proc.returncode, self.stderr_file.read_text(errors="replace"), offset)
            if time.monotonic() > deadline:
                stop_daemon(self.pid_file)
                proc.kill()
                proc.wait()
                _BACKGROUND.pop(proc.pid, None)
                raise self._timeout(timeout_s, offset)
            time.sleep(0.02)
        return proc.pid

    def wait(self) -> int:
        """Wait until the child process started by :meth:`start` exits; its exit status."""
        proc = self._proc
        return 0 if proc is None else proc.wait()

    def stop(self) -> None:
        """Stop the child process gracefully (SIGTERM: it saves its persistence file)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()

    def restart(self) -> None:
        """Stop, then start on the same port with the same persistence."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None
