"""The one place where test services start.

Each service is chosen in this order: an address given in the environment
(KANALPULS_KAFKA__BOOTSTRAP, KANALPULS_STORE__URL — read through Settings like any
kanalpuls process), else a container through testcontainers when a Docker engine
answers, else the embedded part (Tansu broker binary, chDB on disk).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.ground.settings import (
    ConnectorSettings,
    KafkaSettings,
    PrivacySettings,
    Settings,
    StoreSettings,
    WorkerSettings,
)
from pipeline.worker.broker import EmbeddedBroker, ensure_topics, required_topics
from pipeline.worker.supervise import free_port


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "not here"
        return False


@dataclass(frozen=True)
class KafkaService:
    bootstrap: str
    kind: str  # "environment", "container" or "embedded"


@dataclass(frozen=True)
class StoreService:
    url: str | None  # None: embedded chDB
    kind: str


@pytest.fixture(scope="session")
def environment_settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def kafka_service(environment_settings: Settings) -> Iterator[KafkaService]:
    if environment_settings.kafka.bootstrap:
        yield KafkaService(environment_settings.kafka.bootstrap, "environment")
    elif docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield KafkaService(kafka.get_bootstrap_server(), "container")
    else:
        port = free_port()
        with EmbeddedBroker(port):
            yield KafkaService(f"127.0.0.1:{port}", "embedded")


@pytest.fixture(scope="session")
def store_service(environment_settings: Settings) -> Iterator[StoreService]:
    if environment_settings.store.url:
        yield StoreService(environment_settings.store.url, "environment")
    elif docker_engine_answers():
        from testcontainers.clickhouse import ClickHouseContainer

        with ClickHouseContainer() as clickhouse:
            host, port = clickhouse.get_container_host_ip(), clickhouse.get_exposed_port(8123)
            yield StoreService(f"http://{clickhouse.username}:{clickhouse.password}@{host}:{port}", "container")
    else:
        yield StoreService(None, "embedded")


@pytest.fixture
def pipeline_settings(kafka_service: KafkaService, store_service: StoreService, tmp_path: Path) -> Settings:
    """Settings for one isolated pipeline: own topics, consumer group, database and var dir."""
    run = uuid.uuid4().hex[:8]
    return Settings(
        var_dir=tmp_path / "var",
        kafka=KafkaSettings(
            bootstrap=kafka_service.bootstrap,
            inquiries_topic=f"inquiries-{run}",
            dead_letter_topic=f"inquiries-{run}.dlq",
            alerts_topic=f"alerts-{run}",
        ),
        store=StoreSettings(url=store_service.url, path=tmp_path / "var" / "chdb", database=f"kanalpuls_{run}"),
        worker=WorkerSettings(app_id=f"kanalpuls-{run}", web_port=free_port(), data_dir=tmp_path / "var" / "worker"),
        connectors=ConnectorSettings(checkpoint_dir=tmp_path / "var" / "checkpoints"),
        privacy=PrivacySettings(contact_key_secret=SecretStr(f"test-secret-{run}")),
    )


@pytest.fixture
def topics(pipeline_settings: Settings) -> Settings:
    asyncio.run(ensure_topics(pipeline_settings.kafka.bootstrap_servers, required_topics(pipeline_settings.kafka)))
    return pipeline_settings


@pytest.fixture
def no_worker(topics: Settings) -> Settings:
    """Topics created, and connectors that take the broker's acks=all as their confirmation:
    for tests that read the topic back with no worker running to confirm anything stored."""
    return topics.model_copy(update={"connectors": topics.connectors.model_copy(update={"confirm": "broker"})})


@pytest.fixture
def store_server(tmp_path: Path) -> Iterator[Settings]:
    """`kanalpuls store serve` owning a fresh embedded store; settings that reach it (KANALPULS_STORE__URL)."""
    import subprocess
    import time

    from pipeline.ground.network import port_open
    from pipeline.worker.supervise import kanalpuls_command, settings_environment, stop_process

    port = free_port()
    settings = Settings(var_dir=tmp_path / "var",
                        store=StoreSettings(path=tmp_path / "var" / "chdb", url=f"kanalpuls://127.0.0.1:{port}"))
    with open(tmp_path / "store.log", "wb") as log:
        process = subprocess.Popen(kanalpuls_command("store", "serve", "--port", str(port)),
                                   env=settings_environment(settings), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kanalpuls store serve did not start: {(tmp_path / 'store.log').read_text()}")
            time.sleep(0.1)
        yield settings
    finally:
        stop_process(process)


# --- IMAP: a throwaway Dovecot (Debian dovecot-imapd) ------------------------------------


@dataclass
class ImapService:
    """A Dovecot on a loopback port, plain text (ssl = no), one maildir per account."""

    host: str
    port: int
    user: str
    password: str
    root: Path  # config, passwd-file, maildirs and dovecot.log live here
    log_path: Path
    spare: list[tuple[str, str]] = field(default_factory=list)  # accounts written before the start

    def new_account(self) -> tuple[str, str]:
        """A login with an empty mailbox of its own, so tests never see each other's mail.
        Spare accounts come first; past them, one is added to the passwd-file, which Dovecot
        re-reads when it changed, at most once a second: wait until the new login works."""
        import imaplib
        import time

        if self.spare:
            return self.spare.pop()
        user, password = _account()
        with open(self.root / "users", "a", encoding="utf-8") as fh:
            fh.write(f"{user}:{{PLAIN}}{password}\n")
        deadline = time.monotonic() + 10
        while True:
            with imaplib.IMAP4(self.host, self.port, timeout=5) as conn:
                try:
                    conn.login(user, password)
                    return user, password
                except imaplib.IMAP4.error:
                    if time.monotonic() > deadline:
                        raise
            time.sleep(0.1)


def _account() -> tuple[str, str]:
    return f"u{uuid.uuid4().hex[:10]}", uuid.uuid4().hex


def _dovecot_binary() -> str:
    import os
    import shutil
    import subprocess

    search = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    found = shutil.which("dovecot", path=search)
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "dovecot-imapd"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:  # a clean machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=600, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600, check=False)
    found = shutil.which("dovecot", path=search)
    if not found:
        pytest.fail(f"dovecot is missing and `apt-get install dovecot-imapd` failed (run the tests as root on "
                    f"Debian/Ubuntu): {done.stderr[-2000:]}")
    return found


def _dovecot_config(version: str, root: Path, port: int) -> str:
    common = f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 100
# No growing delay after the login-failure test's wrong password: later logins stay instant.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    if version.startswith(("1.", "2.0", "2.1", "2.2", "2.3")):
        return common + f"""
disable_plaintext_auth = no
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
namespace inbox {{
  inbox = yes
}}
"""
    # Dovecot 2.4 (Debian 13) renamed these settings and wants its config version first.
    return "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n" + common + f"""
auth_allow_cleartext = yes
mail_driver = maildir
mail_home = {root}/mail/%{{user}}
mail_path = ~/Maildir
passdb passwd-file {{
  passwd_file_path = {root}/users
}}
userdb static {{
  fields {{
    uid = dovecot
    gid = dovecot
    home = {root}/mail/%{{user}}
  }}
}}
namespace inbox {{
  inbox = yes
}}
"""


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapService]:
    """A running Dovecot IMAP server (installed with apt when missing) and one account on it."""
    import os
    import shutil
    import signal
    import subprocess
    import tempfile
    import time

    from pipeline.ground.network import port_open

    binary = _dovecot_binary()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    # Not tmp_path: pytest's directories are 0700, and Dovecot's mail processes run as `dovecot`.
    root = Path(tempfile.mkdtemp(prefix="kanalpuls-dovecot-"))
    root.chmod(0o755)
    for name in ("run", "state", "mail"):
        (root / name).mkdir()
    shutil.chown(root / "mail", "dovecot", "dovecot")
    user, password = "kanalpuls", uuid.uuid4().hex
    spare = [_account() for _ in range(32)]
    (root / "users").write_text("".join(f"{name}:{{PLAIN}}{secret}\n" for name, secret in [(user, password), *spare]))
    (root / "users").chmod(0o644)  # read by Dovecot's auth process; test passwords only
    port = free_port()
    (root / "dovecot.conf").write_text(_dovecot_config(version, root, port))
    # Dovecot daemonises: its output goes to a file, since a pipe would stay open in the daemon.
    with open(root / "start.log", "wb") as start_log:
        started = subprocess.run([binary, "-c", str(root / "dovecot.conf")], stdin=subprocess.DEVNULL,
                                 stdout=start_log, stderr=subprocess.STDOUT, timeout=30, check=False)
    log, pid_file = root / "dovecot.log", root / "run" / "master.pid"
    if started.returncode != 0:
        output = (root / "start.log").read_text()
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"dovecot {version} did not start: {output}")
    pid = 0
    try:
        deadline = time.monotonic() + 15
        while not (pid_file.exists() and pid_file.read_text().strip() and port_open("127.0.0.1", port)):
            if time.monotonic() > deadline:
                pytest.fail(f"dovecot {version} did not open port {port}: {log.read_text() if log.exists() else ''}")
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        yield ImapService("127.0.0.1", port, user, password, root, log, spare)
    finally:
        if not pid and pid_file.exists() and pid_file.read_text().strip():
            pid = int(pid_file.read_text())
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        shutil.rmtree(root, ignore_errors=True)


# --- Prometheus and Alertmanager (Debian prometheus, prometheus-alertmanager) ------------
# Owned by the alerting tests (tests/deploy/, tests/test_alerting.py). Both run from a
# throwaway config derived from deploy/prometheus/prometheus.yml and
# deploy/alertmanager/alertmanager.yml: the worker job scrapes the addresses a test gives
# it, webhooks go to a recorder on loopback, intervals shrink to seconds; the alert rules
# (deploy/prometheus/rules.yml) are used unchanged.

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
WORKER_JOB = "kanalpuls-worker"


@dataclass(frozen=True)
class AlertingTools:
    promtool: str
    prometheus: str
    amtool: str
    alertmanager: str


def _alerting_binaries() -> AlertingTools | None:
    import shutil

    found = {name: shutil.which(name) for name in ("promtool", "prometheus", "amtool", "prometheus-alertmanager")}
    if not all(found.values()):
        return None
    return AlertingTools(found["promtool"], found["prometheus"], found["amtool"], found["prometheus-alertmanager"])


@pytest.fixture(scope="session")
def alerting_tools() -> AlertingTools:
    """promtool, prometheus, amtool and prometheus-alertmanager, installed with apt when missing."""
    import os
    import subprocess

    tools = _alerting_binaries()
    if tools:
        return tools
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus", "prometheus-alertmanager"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:  # a clean machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=600, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900, check=False)
    tools = _alerting_binaries()
    if not tools:
        pytest.fail("prometheus/alertmanager are missing and `apt-get install prometheus prometheus-alertmanager` "
                    f"failed (run the tests as root on Debian/Ubuntu): {done.stderr[-2000:]}")
    return tools


def _wait_ready(url: str, process, log: Path, what: str, timeout: float = 30.0) -> None:
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with status {process.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not ready at {url} within {timeout:.0f}s: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def _stop(process) -> None:
    import subprocess

    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get_json(url: str):
    import json
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class WebhookRecorder:
    """Receives Alertmanager's webhook notifications on loopback, by URL path."""

    url: str
    received: list[tuple[str, dict]] = field(default_factory=list)

    def notifications(self, path: str) -> list[dict]:
        return [body for got, body in list(self.received) if got == path]


@pytest.fixture(scope="session")
def webhook_recorder() -> Iterator[WebhookRecorder]:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    recorder = WebhookRecorder("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            recorder.received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def alertmanager_test_config(deploy_config: dict, webhook_base: str) -> dict:
    """The deploy config with every webhook sent to `webhook_base` (same path) and each
    route's waits shortened to a second, so a test sees notifications, resolved included,
    within seconds. Routes, matchers, receivers and inhibit rules stay as deployed."""
    import copy
    from urllib.parse import urlsplit

    config = copy.deepcopy(deploy_config)

    def shorten(route: dict) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route or route is config["route"]:
                route[key] = "1s"
        if "repeat_interval" in route or route is config["route"]:
            route["repeat_interval"] = "1m"
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    for receiver in config.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook_base + urlsplit(webhook["url"]).path
    return config


@dataclass
class AlertmanagerService:
    url: str
    root: Path

    def alerts(self, **filters: str) -> list[dict]:
        from urllib.parse import urlencode

        query = f"?{urlencode(filters)}" if filters else ""
        return _get_json(f"{self.url}/api/v2/alerts{query}")

    def post_alerts(self, alerts: list[dict]) -> None:
        import json
        import urllib.request

        request = urllib.request.Request(f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


@pytest.fixture(scope="session")
def alertmanager(alerting_tools: AlertingTools, webhook_recorder: WebhookRecorder,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertmanagerService]:
    """A running Alertmanager with deploy/alertmanager/alertmanager.yml's routes, webhooks to
    `webhook_recorder`."""
    import subprocess

    import yaml

    root = tmp_path_factory.mktemp("alertmanager")
    deployed = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
    config = root / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_test_config(deployed, webhook_recorder.url), allow_unicode=True),
                      encoding="utf-8")
    port = free_port()
    log = root / "alertmanager.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [alerting_tools.alertmanager, f"--config.file={config}", f"--storage.path={root / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=info"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(f"{url}/-/ready", process, log, "alertmanager")
        yield AlertmanagerService(url, root)
    finally:
        _stop(process)


def prometheus_test_config(deploy_config: dict, rules: Path, targets_file: Path, alertmanager: str,
                           interval: str = "1s") -> dict:
    """The deploy config with the worker job reading its targets from `targets_file`
    (instead of compose's DNS), alerts sent to `alertmanager`, the rules file by absolute
    path, and scrape and evaluation every `interval`. Other jobs are left out: their
    compose hosts do not exist here."""
    import copy

    config = copy.deepcopy(deploy_config)
    config["global"] = {**config.get("global", {}), "scrape_interval": interval, "evaluation_interval": interval,
                        "scrape_timeout": interval}
    config["rule_files"] = [str(rules)]
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == WORKER_JOB]
    if not jobs:
        raise AssertionError(f"deploy/prometheus/prometheus.yml has no job {WORKER_JOB!r}")
    job = jobs[0]
    for key in [k for k in job if k.endswith("_sd_configs") or k == "static_configs"]:
        del job[key]
    job["file_sd_configs"] = [{"files": [str(targets_file)], "refresh_interval": "1s"}]
    config["scrape_configs"] = [job]
    return config


@dataclass
class PrometheusService:
    url: str
    root: Path
    targets_file: Path

    def scrape_workers(self, addresses: list[str]) -> None:
        """Point the worker job at these host:port addresses (file discovery picks it up)."""
        import json
        import os

        staging = self.targets_file.with_suffix(".tmp")
        staging.write_text(json.dumps([{"targets": addresses}]))
        os.replace(staging, self.targets_file)

    def query(self, expr: str) -> list[dict]:
        from urllib.parse import urlencode

        return _get_json(f"{self.url}/api/v1/query?{urlencode({'query': expr})}")["data"]["result"]

    def targets(self) -> list[dict]:
        return _get_json(f"{self.url}/api/v1/targets")["data"]["activeTargets"]

    def rules(self) -> list[dict]:
        return [rule for group in _get_json(f"{self.url}/api/v1/rules")["data"]["groups"] for rule in group["rules"]]


@pytest.fixture(scope="session")
def prometheus(alerting_tools: AlertingTools, alertmanager: AlertmanagerService,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusService]:
    """A running Prometheus evaluating deploy/prometheus/rules.yml every second and sending
    to `alertmanager`; it scrapes no worker until a test calls scrape_workers()."""
    import subprocess
    import time

    import yaml

    root = tmp_path_factory.mktemp("prometheus")
    targets_file = root / "workers.json"
    targets_file.write_text("[]")
    deployed = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    config = root / "prometheus.yml"
    am_address = alertmanager.url.removeprefix("http://")
    config.write_text(yaml.safe_dump(prometheus_test_config(
        deployed, DEPLOY / "prometheus" / "rules.yml", targets_file, am_address)), encoding="utf-8")
    port = free_port()
    log = root / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [alerting_tools.prometheus, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}",
             # Alerts' generatorURL then names this Prometheus, not the machine's host name.
             f"--web.external-url=http://127.0.0.1:{port}",
             # With the 1-minute default the first notification can be lost to a race with
             # Alertmanager discovery at start-up (BRIEF.md); a second also keeps tests short.
             "--rules.alert.resend-delay=1s"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(f"{url}/-/ready", process, log, "prometheus")
        # Alertmanager discovery runs a few seconds after ready; alerts fired before it are
        # only sent on the next resend. Hand out a Prometheus that knows its Alertmanager.
        deadline = time.monotonic() + 30
        while not _get_json(f"{url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]:
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus did not discover alertmanager within 30s: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield PrometheusService(url, root, targets_file)
    finally:
        _stop(process)
