"""Typed, frozen models of Vigil's YAML configuration.

Every model forbids unknown keys so that a typo stops start-up with its key path
instead of being silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    IPvAnyNetwork,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config import references
from config.channels import ChannelConfig
from config.units import Duration, Secret
from config.vocabulary import SeverityName

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
Severity = SeverityName


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- sources -------------------------------------------------------------


class BasicAuth(Model):
    username: str
    password: Secret


class PrometheusSource(Model):
    """The Prometheus HTTP API (query_range / query)."""

    type: Literal["prometheus"]
    name: Name
    url: HttpUrl
    bearer_token: Secret | None = None
    basic_auth: BasicAuth | None = None
    timeout_s: Duration = Field(10.0, gt=0, le=300)
    max_series: int = Field(1000, ge=1, le=100_000)
    verify_tls: bool = True


class ScrapeSource(Model):
    """A Prometheus text-exposition /metrics endpoint pulled directly."""

    type: Literal["scrape"]
    name: Name
    url: HttpUrl
    timeout_s: Duration = Field(5.0, gt=0, le=120)
    keep_points: int = Field(2000, ge=10, le=100_000)
    max_series: int = Field(1000, ge=1, le=100_000)


class HostSource(Model):
    """This machine's own CPU, memory, disk and load (psutil)."""

    type: Literal["host"]
    name: Name
    disk_path: str = "/"
    keep_points: int = Field(2000, ge=10, le=100_000)


class CsvSource(Model):
    """A file of timestamp,value[,series...] for replay and backtests."""

    type: Literal["csv"]
    name: Name
    path: str


SourceConfig = Annotated[Union[PrometheusSource, ScrapeSource, HostSource, CsvSource], Field(discriminator="type")]


# ---- analyses ------------------------------------------------------------


class ThresholdAnalysis(Model):
    """Fire while the value is above/below a bound for at least `for`."""

    type: Literal["threshold"]
    above: float | None = None
    below: float | None = None
    for_: Duration = Field(0.0, alias="for")
    clear_after: Duration = 0.0
    hysteresis: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _one_bound(self) -> "ThresholdAnalysis":
        if self.above is None and self.below is None:
            raise ValueError("set 'above' or 'below' (or both)")
        return self


class ZScoreAnalysis(Model):
    """Robust rolling z-score: (x - rolling median) / (1.4826 * rolling MAD)."""

    type: Literal["zscore"]
    threshold: float = Field(4.0, gt=0)
    window_points: int = Field(60, ge=5, le=100_000)
    min_history: int = Field(30, ge=5, le=100_000)
    direction: Literal["up", "down", "both"] = "both"


class ChangePointAnalysis(Model):
    """Level shifts found by ruptures (KernelCPD) or a fast binary segmentation."""

    type: Literal["changepoint"]
    method: Literal["auto", "kernelcpd", "binseg"] = "auto"
    penalty: float | None = Field(None, gt=0)
    min_shift: float = Field(0.0, ge=0)
    min_shift_sigma: float = Field(3.0, ge=0)
    recent: float = Field(0.25, gt=0, le=1)
    direction: Literal["up", "down", "both"] = "both"
    min_size: int = Field(5, ge=2)


class AutoAnalysis(Model):
    """Anomalies against a baseline (local or daily/weekly seasonal) learnt from the window itself."""

    type: Literal["auto"]
    threshold: float = Field(4.0, gt=0)
    margin: float = Field(1.5, ge=0)
    hold: float = Field(0.1, gt=0, lt=0.5)
    seasonality: Literal["auto", "none", "daily", "weekly"] = "auto"
    direction: Literal["up", "down", "both"] = "both"
    local_points: int = Field(72, ge=2, le=100_000)
    min_history: int = Field(30, ge=2, le=100_000)
    agree: int = Field(2, ge=1, le=5)  # of the signals: residual over 1, 6, 24 points, volatility, slow baseline
    min_effect: float = Field(0.7, ge=0)
    peak_quantile: float = Field(0.99, gt=0, le=1)  # of the history's |z| that `margin` applies to
    slow_points: int = Field(576, ge=0, le=100_000)  # the slow rolling median's length; 0 turns it off


AnalysisConfig = Annotated[
    Union[ThresholdAnalysis, ZScoreAnalysis, ChangePointAnalysis, AutoAnalysis], Field(discriminator="type")
]


class BlindAlertConfig(Model):
    """What to do when a detector cannot see (Grafana's Error and NoData states): after
    `for` of consecutive failed (on_error) or empty (on_no_data) runs, raise an alert of
    kind `error` / `nodata` that resolves when data returns. `for` defaults to three
    intervals of the detector."""

    alert: bool = True
    for_: Duration | None = Field(None, alias="for", ge=0)
    severity: Severity = "warning"


class DiagnoseConfig(Model):
    """Which signals a detector's alerts are diagnosed against (README "Diagnostics")."""

    source: Name | None = None  # default: the detector's own
    queries: list[str] = Field(default_factory=list)  # scrape and host: empty means every series
    lookback: Duration = 1800.0  # before the alert's start
    after: Duration = 300.0  # and after it
    max_signals: int = Field(5000, ge=1, le=100_000)
    top: int = Field(50, ge=1, le=500)  # suspects kept

    @model_validator(mode="after")
    def _sane(self) -> "DiagnoseConfig":
        if self.lookback < 60 or self.after < 0:
            raise ValueError("lookback must be at least 1m and after at least 0s")
        if any(not q.strip() for q in self.queries):
            raise ValueError("queries: a query must not be empty")
        return self


class DetectorConfig(Model):
    name: Name
    source: Name
    query: str = Field(min_length=1)
    analysis: AnalysisConfig
    interval: Duration = 60.0
    window: Duration = 3600.0
    step: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    severity: Severity = "warning"
    enabled: bool = True
    description: str = ""
    diagnose: DiagnoseConfig | None = None
    on_error: BlindAlertConfig = BlindAlertConfig()
    on_no_data: BlindAlertConfig = BlindAlertConfig()

    @model_validator(mode="after")
    def _sane_times(self) -> "DetectorConfig":
        if self.interval < 1:
            raise ValueError("interval must be at least 1s")
        if self.window < self.interval:
            raise ValueError("window must be at least as long as interval")
        return self


# ---- automation ----------------------------------------------------------


class WhenSuspect(Model):
    """Run a binding only if one of the diagnosis' top `top` suspects has these labels
    (a value starting with '~' is a regex); decided when the diagnosis is done."""

    labels: dict[str, str] = Field(min_length=1)
    top: int = Field(3, ge=1, le=50)


class BindingConfig(Model):
    """Which alerts run which remediation, and under which safety envelope."""

    name: Name
    remediation: Name
    detector: str | None = None
    matchers: dict[str, str] = Field(default_factory=dict)
    severities: list[Severity] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["auto", "approve", "dry_run", "shadow"] = "approve"
    cooldown: Duration = 300.0
    rate_limit: int = Field(5, ge=1, le=10_000)
    rate_window: Duration = 3600.0
    breaker_threshold: int = Field(3, ge=1, le=1000)
    # How long a mode "approve" execution waits for a person before it expires.
    approval_timeout: Duration = Field(3600.0, ge=1, le=30 * 86400)
    enabled: bool = True
    queue: str = Field("default", pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # RQ queue (a target group)
    when_suspect: WhenSuspect | None = None
    # diagnostic: a read-only script run on firing without approval (whatever `mode` says),
    # its output on the alert's timeline and chat thread; never judged as a remediation.
    kind: Literal["remediation", "diagnostic"] = "remediation"


class AutomationSettings(Model):
    backend: Literal["inline", "rq"] = "inline"
    redis_url: Secret | None = None  # REDIS_URL; needed for backend rq
    max_workers: int = Field(4, ge=1, le=64)
    verify_window_s: Duration = Field(600.0, ge=1, le=7 * 86400)
    max_output_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1_048_576)
    memory_bytes: int | None = Field(512 * 1_048_576, ge=16 * 1_048_576)
    max_file_bytes: int | None = Field(64 * 1_048_576, ge=1_048_576)
    max_open_files: int = Field(256, ge=16, le=65536)
    max_script_bytes: int = Field(256 * 1024, ge=1024, le=4 * 1_048_576)
    # Isolation of scripts (README "Remediations"): the user they run as, what else they may
    # not see besides data_dir and the config file, their processes and their writable space.
    run_as: str = Field("vigil-run", pattern=r"^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10}(:[0-9]{1,10})?)$")
    hide_paths: list[str] = Field(default_factory=list)
    writable_paths: list[str] = Field(default_factory=list)  # all else is read-only to scripts
    max_processes: int = Field(256, ge=8, le=65536)
    max_workdir_bytes: int = Field(64 * 1_048_576, ge=1_048_576)
    # Where scripts cannot be isolated, run them anyway (as Vigil's user, seeing its secrets).
    allow_unisolated: bool = False


# ---- inbound webhooks and silences ---------------------------------------


class IngestEndpoint(Model):
    """Credentials for one inbound webhook: a bearer token and/or an HMAC-SHA256 secret."""

    token: Secret | None = None
    hmac_secret: Secret | None = None


class IngestSettings(Model):
    alertmanager: IngestEndpoint = IngestEndpoint()
    grafana: IngestEndpoint = IngestEndpoint()
    generic: IngestEndpoint = IngestEndpoint()
    max_alerts_per_request: int = Field(1000, ge=1, le=100_000)
    # Bounds per received alert (a 40,000-label alert made a 6.9 MB dashboard page). Names
    # are stored in a 200-character column, hence their ceiling.
    max_labels: int = Field(64, ge=1, le=10_000)
    max_label_name_bytes: int = Field(128, ge=16, le=200)
    max_label_value_bytes: int = Field(2048, ge=64, le=1_048_576)
    max_annotation_bytes: int = Field(16384, ge=256, le=16 * 1_048_576)  # all of an alert's, with its URL


class SilenceSettings(Model):
    max_duration: Duration = 7 * 86400.0


class IncidentSettings(Model):
    """How alerts fold into incidents: same values of `group_by` ("detector" is the alert's
    detector, any other name a label) and a start within `window` of the incident's last
    resolution (or while it is open)."""

    group_by: tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")], ...] = Field(
        ("detector",), min_length=1, max_length=10
    )
    window: Duration = Field(1800.0, ge=0, le=30 * 86400)


# ---- settings ------------------------------------------------------------


class SchedulerSettings(Model):
    enabled: bool = True
    lease_ttl_s: Duration = Field(30.0, ge=2, le=3600)
    renew_every_s: Duration = Field(10.0, ge=0.5, le=600)
    jitter_s: Duration = Field(2.0, ge=0, le=600)
    max_workers: int = Field(4, ge=1, le=64)


class Settings(Model):
    public_url: str = "http://127.0.0.1:8000"  # links in chat messages point here
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int | None = Field(None, ge=1, le=64)  # Gunicorn workers; default from the CPU count
    data_dir: str = "var"
    # Prometheus multiprocess files under Gunicorn; None: a fresh directory on /dev/shm (or the
    # temp dir). Not under data_dir: a full data disk made the workers' mmaps die with SIGBUS.
    metrics_dir: str | None = None
    database_url: Secret | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    anonymous_read: bool = False
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    # Memory per worker for unchanged alert-list answers (SQLite only); 0 turns replaying off.
    alert_list_cache_mb: int = Field(16, ge=0, le=1024)
    secret_key: Secret | None = None
    # Keys the audit chain's HMAC (VIGIL_AUDIT_KEY); unset, a key is derived from secret_key.
    audit_key: Secret | None = None
    # Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the real client;
    # the header is ignored from every other peer.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    scheduler: SchedulerSettings = SchedulerSettings()
    automation: AutomationSettings = AutomationSettings()
    silences: SilenceSettings = SilenceSettings()
    incidents: IncidentSettings = IncidentSettings()

    @field_validator("audit_key")
    @classmethod
    def _long_key(cls, key: Secret | None) -> Secret | None:
        if key is not None and len(key.get_secret_value()) < 16:
            raise ValueError("expected at least 16 characters")
        return key


class Config(Model):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    settings: Settings = Settings()
    sources: list[SourceConfig] = Field(default_factory=list)
    detectors: list[DetectorConfig] = Field(default_factory=list)
    bindings: list[BindingConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    ingest: IngestSettings = IngestSettings()
    source_file: str = Field("<memory>", exclude=True)

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> "Config":
        # config.loader checks names on the raw data instead, beside every other error.
        if not (info.context and info.context.get("references_checked")):
            dumped = self.model_dump(include={"sources", "detectors", "bindings", "channels", "ingest"})
            errors, _warnings = references.problems(dumped)
            if errors:
                raise ValueError("; ".join(f"{path}: {message}" for path, message in errors))
        for i, d in enumerate(self.detectors):
            if d.diagnose is not None:
                _check_diagnose(d.diagnose, f"detectors[{i}].diagnose", d.source, self.sources)
        return self

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def detector(self, name: str) -> DetectorConfig | None:
        return next((d for d in self.detectors if d.name == name), None)


def _check_diagnose(diagnose: DiagnoseConfig, where: str, default: str, sources: list[SourceConfig]) -> None:
    name = diagnose.source or default
    source = next((s for s in sources if s.name == name), None)
    if source is None:
        raise ValueError(f"{where}.source: unknown source {name!r}")
    if not isinstance(source, (HostSource, ScrapeSource)) and not diagnose.queries:  # those: every series
        raise ValueError(f"{where}.queries: a {source.type} source needs at least one query")
