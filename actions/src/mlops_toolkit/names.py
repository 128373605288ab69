"""One home for the names the toolkit shares with workflows and generated projects.

Aliases, tag keys and environment variables are spelled here and nowhere else.
"""

# Registry aliases (never the deprecated stages).
CHALLENGER = "challenger"
STAGING = "staging"
PRODUCTION = "production"
ALIASES = (CHALLENGER, STAGING, PRODUCTION)
STAGES = (STAGING, PRODUCTION)  # deployment targets

# Every tag the project or the toolkit writes starts with this prefix.
TAG_PREFIX = "mlops."

# Lineage of a model version / run. The project's `train` writes git_commit, data_hash,
# data_source, rows_train, model_family, task and device; `evaluate` rows_holdout.
TAG_GIT_COMMIT = "mlops.git_commit"
TAG_DATA_HASH = "mlops.data_hash"  # md5 of the raw data, as DVC records it
TAG_DATA_SOURCE = "mlops.data_source"
TAG_ROWS_TRAIN = "mlops.rows_train"
TAG_ROWS_HOLDOUT = "mlops.rows_holdout"
TAG_MODEL_FAMILY = "mlops.model_family"
TAG_TASK = "mlops.task"
TAG_DEVICE = "mlops.device"
TAG_PULL_REQUEST = "mlops.pull_request"
TAG_DATA_VERSION = "mlops.data_version"
TAG_SOURCE_RUN = "mlops.source_run_id"
TAG_METRIC_PREFIX = "mlops.metric."

# Gate verdict (on the candidate run and, once registered, on its model version).
TAG_GATE_PASSED = "mlops.gate.passed"
TAG_GATE_MODE = "mlops.gate.mode"
TAG_GATE_SUMMARY = "mlops.gate.summary"
TAG_GATE_BASELINE = "mlops.gate.baseline_version"
TAG_GATE_PREFIX = "mlops.gate."

# Promotion history: every promoted version remembers what it replaced.
TAG_PREVIOUS_PRODUCTION = "mlops.previous_production_version"
TAG_PROMOTED_AT = "mlops.promoted_at"
TAG_PROMOTED_BY = "mlops.promoted_by"
TAG_ROLLED_BACK_FROM = "mlops.rolled_back_from"
TAG_ROLLED_BACK_AT = "mlops.rolled_back_at"
TAG_LAST_ROLLBACK = "mlops.last_rollback"  # on the registered model

# Image built for a model version (reference@digest), used by deploy and rollback.
TAG_IMAGE = "mlops.image"
TAG_IMAGE_DIGEST = "mlops.image_digest"

# Compute recorded by `train`.
TAG_COMPUTE = "mlops.compute"
TAG_GPU_COUNT = "mlops.gpu.count"
TAG_GPU_NAME = "mlops.gpu.name"
TAG_GPU_DRIVER = "mlops.gpu.driver"
# The runner's image the training ran in (the model passport's lineage; compute/training.py).
TAG_TRAIN_IMAGE = "mlops.train_image"

# Promotion lock: a registered model whose creation is the atomic "acquire".
LOCK_MODEL_PREFIX = "mlops-lock."
TAG_LOCK_HOLDER = "mlops.lock.holder"
TAG_LOCK_EXPIRES = "mlops.lock.expires_at"
# The holder process (pid, host, machine, process_start: see liveness.py), each as
# TAG_LOCK_PREFIX + key, so that a waiter on the same machine notices a dead holder.
TAG_LOCK_PREFIX = "mlops.lock."

# Docker labels (OCI standard keys plus ours).
LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_CREATED = "org.opencontainers.image.created"
LABEL_MODEL_NAME = "io.mlops.model.name"
LABEL_MODEL_VERSION = "io.mlops.model.version"
LABEL_STAGE = "io.mlops.stage"
LABEL_APP = "io.mlops.app"
LABEL_IMAGE = "io.mlops.image"  # on Swarm services: the image reference deployed

# Environment variables read by the toolkit.
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_TRACKING_USERNAME = "MLFLOW_TRACKING_USERNAME"  # MLflow's own basic-auth variables
ENV_TRACKING_PASSWORD = "MLFLOW_TRACKING_PASSWORD"
ENV_TRACKING_TOKEN = "MLFLOW_TRACKING_TOKEN"
ENV_DEBUG = "MLOPS_DEBUG"  # set: unexpected errors show their traceback
ENV_WARM = "MLOPS_WARM"  # the job's warm process (core/warm.py): 0 off, 1 or a folder on
# Set by CI: every failed command (toolkit or project) appends its one line to this file, and
# the pull-request report quotes the first (the root cause) beside the step that failed.
ENV_FAILURE_LOG = "MLOPS_FAILURE_LOG"
ENV_GITHUB_OUTPUT = "GITHUB_OUTPUT"
# The DVC remote (dvcremote.py): its URL and S3 endpoint from CI variables, S3 keys from secrets.
ENV_DVC_REMOTE_URL = "DVC_REMOTE_URL"
ENV_DVC_S3_ENDPOINT_URL = "DVC_S3_ENDPOINT_URL"
ENV_AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
ENV_GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
ENV_GITHUB_TOKEN = "GITHUB_TOKEN"
ENV_GITHUB_API_URL = "GITHUB_API_URL"
ENV_GITHUB_REPOSITORY = "GITHUB_REPOSITORY"
ENV_GITHUB_EVENT_PATH = "GITHUB_EVENT_PATH"
ENV_GITHUB_EVENT_NAME = "GITHUB_EVENT_NAME"
ENV_GITHUB_SHA = "GITHUB_SHA"
ENV_GITHUB_ACTOR = "GITHUB_ACTOR"
ENV_GITHUB_SERVER_URL = "GITHUB_SERVER_URL"
ENV_GITHUB_RUN_ID = "GITHUB_RUN_ID"
ENV_GITHUB_REF_NAME = "GITHUB_REF_NAME"
ENV_DOCKER_HOST = "DOCKER_HOST"

# Environment variables the toolkit sets for the project's training command.
ENV_COMPUTE = "MLOPS_COMPUTE"  # gpu | cpu
ENV_GPU_COUNT = "MLOPS_GPU_COUNT"

# Files of a generated project (see docs/architecture.md).
VALIDATION_JSON = "reports/validation.json"
GATE_CONFIG = "gate.yaml"
SERVING_PORT = 8080
ENV_REGISTRY_PASSWORD = "REGISTRY_PASSWORD"  # doctor's image-registry login, never a flag
# The prediction store (monitoring/store): its URL (sqlite:///PATH or postgresql://...), the
# bearer token of the scoring server's POST /feedback, and the environment a server or batch
# job scores for (staging, production, ...), recorded with every prediction.
ENV_PREDICTION_STORE = "MLOPS_PREDICTION_STORE"
ENV_FEEDBACK_TOKEN = "MLOPS_FEEDBACK_TOKEN"
# 1: a classifier's server stores its class probabilities too (what the confidence-based
# estimate of `monitor` needs while labels are pending).
ENV_STORE_SCORES = "PREDICTION_STORE_SCORES"
ENV_ENVIRONMENT = "MLOPS_ENVIRONMENT"
# Live quality and the retraining loop (monitoring/quality.py, monitoring/alert_relay.py): the
# alerts that ask for a retrain (alerts.yml), the repository_dispatch event the relay sends for
# them (retrain.yml runs on it), the bearer token Alertmanager's webhook presents to the relay,
# and the Pushgateway `monitor` pushes the live figures to.
ALERT_PERFORMANCE = "ModelPerformanceDegradation"
ALERT_DRIFT = "ModelDriftDetected"
ALERT_LABELS_STALE = "LabelsStale"
ALERT_MONITOR_STALE = "ModelQualityMonitorStale"  # the monitor stopped pushing
ALERT_STORE_DROPPING = "PredictionStoreDropping"  # the server lost rows for the store
EVENT_RETRAIN = "model-retrain"
ENV_RELAY_TOKEN = "MLOPS_RELAY_TOKEN"
ENV_PUSHGATEWAY_URL = "MLOPS_PUSHGATEWAY_URL"
# Sign-in to a Pushgateway behind an authenticating proxy: basic auth, or a bearer token.
ENV_PUSHGATEWAY_USERNAME = "MLOPS_PUSHGATEWAY_USERNAME"
ENV_PUSHGATEWAY_PASSWORD = "MLOPS_PUSHGATEWAY_PASSWORD"
ENV_PUSHGATEWAY_TOKEN = "MLOPS_PUSHGATEWAY_TOKEN"
# Sweeps (tuning/): the parent run of a study and its child runs, one per trial (the parent's id
# is MLflow's own mlflow.parentRunId too, so the UI nests them), and the study's storage URL
# when the tracking store is a server (sqlite:///PATH or postgresql://...).
TAG_SWEEP_STUDY = "mlops.sweep.study"
TAG_SWEEP_PARENT = "mlops.sweep.parent_run_id"
TAG_SWEEP_TRIAL = "mlops.sweep.trial"
TAG_SWEEP_STATE = "mlops.sweep.state"  # COMPLETE, PRUNED or FAIL (Optuna's trial states)
TAG_SWEEP_METRIC = "mlops.sweep.metric"
TAG_SWEEP_DIRECTION = "mlops.sweep.direction"
TAG_SWEEP_SPACE = "mlops.sweep.space"  # params.yaml's sweep.space as JSON
TAG_SWEEP_BEST_TRIAL = "mlops.sweep.best_trial"
TAG_SWEEP_BEST_RUN = "mlops.sweep.best_run_id"
TAG_SWEEP_BEST_PARAMS = "mlops.sweep.best_params"  # JSON
ENV_SWEEP_STORAGE = "MLOPS_SWEEP_STORAGE"
# Registry webhooks (registry/webhooks.py): where the tracking server POSTs registry events, and
# the HMAC secret that signs them (an environment variable only, never a flag).
ENV_WEBHOOK_URL = "MLOPS_WEBHOOK_URL"
ENV_WEBHOOK_SECRET = "MLOPS_WEBHOOK_SECRET"
