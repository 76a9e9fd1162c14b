"""Results gathered in one place: each finished run of a study (a seed of ``--seeds --study``
or a sweep trial) uploads what comparison and reports need to Optuna's artifact store,
recorded on its trial; any machine that reaches the storage (and the store) gets them back.

Uploaded: ``summary.json``, ``metrics.jsonl``, ``config.yaml`` and
``checkpoints/latest.pt``. The store is a directory (``FileSystemArtifactStore``; on many
machines, a shared one: NFS, a mounted bucket) or ``s3://bucket`` (Optuna's
``Boto3ArtifactStore``, with boto3 installed). The study remembers where its store is, so
``rlkit compare --study NAME --storage URL`` needs nothing else. A downloaded checkpoint
is an ordinary one (``torch.load(weights_only=True)``): ``rlkit eval`` and ``render`` take
it like any other.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from rlkit.errors import BadInput

FILES = ("summary.json", "metrics.jsonl", "config.yaml", "checkpoints/latest.pt")
"""What a finished run uploads, by its path in the run dir."""

STORE_ATTR = "rlkit_artifacts"
"""The study's user attribute naming its artifact store."""


def open_store(location: str, write: bool = True) -> Any:
    """The artifact store at ``location`` (a directory, made when missing, or
    ``s3://bucket``); ``BadInput`` when it cannot be written (``write``) or read."""
    from optuna.artifacts import FileSystemArtifactStore

    if location.startswith("s3://"):
        try:
            import boto3
        except ImportError:
            raise BadInput(
                f"--artifacts {location} needs boto3 (pip install boto3), or give a directory"
            ) from None
        from optuna.artifacts import Boto3ArtifactStore

        bucket = location[len("s3://") :].rstrip("/")
        if not bucket or "/" in bucket:
            raise BadInput(f"bad --artifacts {location!r}; expected s3://bucket (no prefix)")
        return Boto3ArtifactStore(bucket, client=boto3.client("s3"))
    if "://" in location:
        raise BadInput(f"bad --artifacts {location!r}; expected a directory or s3://bucket")
    path = Path(location)
    if not write:
        if not path.is_dir():
            raise BadInput(
                f"the artifact store {path} is not a directory here; give --artifacts DIR "
                "where this machine sees it"
            )
        return FileSystemArtifactStore(str(path))
    probe = path / f".rlkit-write-probe-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise BadInput(
            f"the artifact store {path} cannot be written ({e.strerror or e}); give "
            "--artifacts DIR, a directory every worker can write"
        ) from None
    return FileSystemArtifactStore(str(path))


def study_store(study: Any, location: str | None, default: Path) -> tuple[Any, str]:
    """The store of ``study``: the one it recorded, else ``location`` (else ``default``),
    recorded on it; ``(store, location)``. A worker naming another store than the study's
    is ``BadInput``."""
    held = study.user_attrs.get(STORE_ATTR)
    wanted = location if location is not None else (held or str(default.resolve()))
    if held is not None and wanted != held:
        raise BadInput(
            f"study {study.study_name!r} gathers its results in {held}; give --artifacts {held} "
            "(or none)"
        )
    store = open_store(wanted)
    if held is None:
        study.set_user_attr(STORE_ATTR, wanted)
    return store, wanted


def upload_run(trial: Any, run_dir: Path, store: Any) -> dict[str, str]:
    """Upload a finished run's files (``FILES``) for ``trial``; records and returns
    ``{path in the run dir: artifact id}`` (the trial's ``artifacts`` attribute)."""
    from optuna.artifacts import upload_artifact

    ids = {}
    for name in FILES:
        path = run_dir / name
        if path.is_file():
            ids[name] = upload_artifact(
                artifact_store=store, file_path=str(path), study_or_trial=trial
            )
    trial.set_user_attr("artifacts", ids)
    return ids


def download_runs(study: Any, store: Any, into: Path) -> list[Path]:
    """Every completed trial's gathered files as a run dir under ``into`` (named by the
    trial's ``label``: ``s<seed>`` or ``trial-NNNN``); returns the run dirs."""
    import optuna
    from optuna.artifacts import download_artifact

    runs = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        ids = trial.user_attrs.get("artifacts")
        if not ids:
            continue
        label = str(trial.user_attrs.get("label", f"trial-{trial.number:04d}"))
        run_dir = into / os.path.basename(label)
        for name, artifact_id in ids.items():
            if name not in FILES:
                continue
            target = run_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            download_artifact(artifact_store=store, artifact_id=artifact_id, file_path=str(target))
        runs.append(run_dir)
    return runs


def gathered_runs(study: Any, artifacts: str | None, into: Path) -> tuple[list[Path], str]:
    """The completed runs of ``study`` downloaded into ``into`` (see ``download_runs``),
    from the store the study recorded or ``artifacts``; with the store's location.
    ``BadInput`` when there is no store or nothing finished."""
    name = study.study_name
    location = artifacts or study.user_attrs.get(STORE_ATTR)
    if location is None:
        raise BadInput(f"study {name!r} has no gathered results (no artifact store recorded)")
    runs = download_runs(study, open_store(location, write=False), into)
    if not runs:
        raise BadInput(f"study {name!r} has no finished run with gathered results yet")
    return runs, location
