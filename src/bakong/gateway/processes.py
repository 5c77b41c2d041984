"""Gateway processes on this machine, beside a local network: for `bakong demo` and the
end-to-end tests, as `bakong.node.localnet` is for validators.

    NETWORK/keys/alias.key           the phone-alias HMAC key every gateway of the chain shares
    NETWORK/tls/ca.pem               a throwaway certificate authority for loopback (demo only)
    NETWORK/tls/gateway.pem, .key    the certificate every local gateway serves (127.0.0.1)
    NETWORK/gateway-<code>/          one gateway home per participant (`bakong.gateway.home`)
    NETWORK/corebank-<code>/         a sample core bank's home (`bakong.corebank.home`)

`prepare_gateways(network, codes)` writes a home per participant with `bakong gateway init`
(its keys are the localnet's `keys/<code>-gateway.json` and `<code>-admin.json`, the chain's
alias key, a free loopback port). `publish_gateways(network, urls)` then has the central bank
publish each gateway's URL on the ledger (`set_participant_endpoint`), so their party lookups
find each other through the participant directory, as gateways of a real network do, and no
home needs a `[directory]` entry. `GatewayProcess` runs `bakong gateway run` on a home as a
child process, waits until `/healthz` answers, stops it with SIGTERM (SIGKILL after a grace
period) or kills it outright (crash tests), and starts it again on the same home.
`prepare_core_bank(network, code)` writes (once) a sample core bank's home for a participant,
which `bakong.corebank.process.CorebankProcess` runs.

Rules:
- A home is written once: preparing a directory that holds one reads it back (same port,
  same database, same keys), so a second demo resumes the same gateways.
- One `set_participant_endpoint` transaction per bank (a transaction touches one bank's
  records only), signed by the central bank's admin key; a URL the ledger already holds is
  not published again, so a second demo adds no transaction.
- Secrets stay files of mode 0600 (`home.write_secret`); the CA's key is thrown away once the
  leaf is signed, so the CA can vouch for nothing else.
- Children run in their own session, so a Ctrl-C reaches the supervisor, which stops them;
  their output goes to `gateway.log` in their home. Every wait is bounded by `limits`.
"""

from __future__ import annotations

import datetime
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import nacl.secret
import nacl.utils

from bakong import lifeline, limits
from bakong.errors import ConfigError
from bakong.gateway.home import GatewayHome, load_home, write_secret
from bakong.ports import loopback_port

__all__ = [
    "GatewayProcess",
    "TlsFiles",
    "loopback_tls",
    "prepare_core_bank",
    "prepare_gateways",
    "publish_gateways",
]


@dataclass(frozen=True)
class TlsFiles:
    """A loopback certificate, its key, and the CA a client trusts it by."""

    certificate: Path
    key: Path
    authority: Path


def loopback_tls(directory: Path) -> TlsFiles:
    """The certificate of `directory/tls/`, made on first use: a CA and a leaf for 127.0.0.1."""
    tls = directory / "tls"
    files = TlsFiles(tls / "gateway.pem", tls / "gateway.key", tls / "ca.pem")
    if files.certificate.exists() and files.key.exists() and files.authority.exists():
        return files
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    tls.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    lifetime = datetime.timedelta(days=limits.local_gateway_certificate_days)

    def certificate(subject: str, issuer: str, public: ec.EllipticCurvePublicKey,
                    signer: ec.EllipticCurvePrivateKey, authority: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
        )
        if not authority:
            import ipaddress

            address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            names = x509.SubjectAlternativeName([address, x509.DNSName("localhost")])
            builder = builder.add_extension(names, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("bakong localnet CA", "bakong localnet CA", ca_key.public_key(), ca_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate("127.0.0.1", "bakong localnet CA", leaf_key.public_key(), ca_key, False)
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as output:
        output.write(key_pem)
    files.certificate.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files.authority.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def _alias_key_file(network: Path) -> Path:
    path = network / "keys" / "alias.key"
    if not path.exists():
        # The same size as the key-encryption key, which `home.read_secret` checks for both.
        write_secret(path, nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))
    return path


def _init(network: Path, code: str, home: Path, listen: str, database: str) -> None:
    keys = network / "keys"
    command = [
        sys.executable, "-m", "bakong", "gateway", "init",
        "--participant", code, "--home", str(home), "--core", _core_url(network),
        "--genesis", str(network / "genesis.json"),
        "--gateway-key", str(keys / f"{code}-gateway.json"),
        "--admin-key", str(keys / f"{code}-admin.json"),
        "--alias-key", str(_alias_key_file(network)),
        "--listen", listen,
    ]  # fmt: skip
    if database:
        command += ["--database", database]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"bakong gateway init {code}: {done.stderr.strip()[-400:]}")


def _core_url(network: Path) -> str:
    """The first validator's API: the gateways of a local network all talk to it."""
    from bakong.node.localnet import Localnet

    return Localnet(network).children[0].api_url


def prepare_gateways(
    network: Path,
    codes: list[str],
    *,
    databases: dict[str, str] | None = None,
) -> dict[str, GatewayHome]:
    """A gateway home per participant code under `network` (module docstring), by code.

    Homes that exist are read back as they are; new ones get a free loopback port.
    `databases` maps a code to a PostgreSQL URL; the others keep SQLite in their home.
    """
    homes = {code: network / f"gateway-{code}" for code in codes}
    listens = {
        code: load_home(home).config.gateway.listen
        if (home / "config.toml").exists()
        else f"127.0.0.1:{loopback_port()}"
        for code, home in homes.items()
    }
    for code, home in homes.items():
        if not (home / "config.toml").exists():
            _init(network, code, home, listens[code], (databases or {}).get(code, ""))
    return {code: load_home(home) for code, home in homes.items()}


def prepare_core_bank(network: Path, code: str) -> Path:
    """The home of participant `code`'s sample core bank under `network`, written on first use
    (a free loopback port, SQLite in the home, the sample customers); read back as it is."""
    from bakong.corebank.home import init_home

    home = network / f"corebank-{code}"
    if not (home / "config.toml").exists():
        init_home(home, code, listen=f"127.0.0.1:{loopback_port()}",
                  now_ms=time.time_ns() // 1_000_000)  # fmt: skip
    return home


def publish_gateways(network: Path, urls: dict[str, str]) -> list[int]:
    """The central bank publishes each bank's gateway URL (`urls`: code -> URL) on the ledger
    of the local network in `network`; the heights of the transactions it committed (none for
    a URL already published). `ConfigError` if the ledger refuses one."""
    from bakong.client import Client, SyncClient, set_participant_endpoint, sign
    from bakong.keystore import read_key_file

    keys = network / "keys"
    admin = read_key_file(keys / "nbc-admin.json")
    heights = []
    with SyncClient(Client(_core_url(network), read_key_file(keys / "nbc-gateway.json"))) as nbc:
        for code, url in sorted(urls.items()):
            if nbc.participant(code).gateway_url == url:
                continue
            payload = nbc.builder("nbc").add(set_participant_endpoint(code, url)).payload()
            committed = nbc.submit_and_wait(sign(payload, admin))
            if not committed.ok:
                raise ConfigError(f"publishing {code}'s gateway URL: {committed.result}")
            heights.append(committed.height)
    return heights


class GatewayProcess:
    """One `bakong gateway run` child on a prepared home."""

    def __init__(self, home: GatewayHome, *, tls: TlsFiles | None = None) -> None:
        self.home = home
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        host, _, port = home.config.gateway.listen.rpartition(":")
        self.host, self.port = host, int(port)
        self.url = f"{'https' if tls else 'http'}://{home.config.gateway.listen}"

    @property
    def participant(self) -> str:
        return self.home.config.gateway.participant

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        command = [
            sys.executable, "-m", "bakong", "gateway", "run",
            "--participant", self.participant, "--home", str(self.home.path),
            "--host", self.host, "--port", str(self.port),
            "--print-sms",  # local gateways: sign-up codes appear in gateway.log
        ]  # fmt: skip
        environment = dict(os.environ)
        if self.tls is not None:
            command += ["--cert", str(self.tls.certificate), "--key", str(self.tls.key)]
            # The other local gateways serve the same certificate: trust its CA for lookups.
            environment["SSL_CERT_FILE"] = str(self.tls.authority)
        with open(self.home.path / "gateway.log", "ab") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **lifeline.child_options(environment),
            )

    def verify(self) -> bool | ssl.SSLContext:
        """What an HTTP client passes as `verify` to trust this gateway (a context that trusts
        the local CA: httpx deprecates a CA file path there)."""
        if self.tls is None:
            return True
        return ssl.create_default_context(cafile=str(self.tls.authority))

    def wait_healthy(self, timeout_s: float = limits.local_gateway_start_timeout_s) -> None:
        """Until `/healthz` answers 200 with the core reachable; `ConfigError` with the log's
        tail if it does not within `timeout_s` or the process exits."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0, verify=self.verify()) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    break
                try:
                    answer = client.get(self.url + "/healthz")
                    if answer.status_code == 200 and answer.json().get("core_reachable"):
                        return
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.2)
        raise ConfigError(f"gateway {self.participant} did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        log = self.home.path / "gateway.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after `limits.localnet_stop_grace_s`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(limits.localnet_stop_grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
