"""Running beyond one machine: the container image, the compose stack, the
Kubernetes manifests and the local stack agree, and the local stack really runs.

The expected image, commands and environment names come from one place, ``infra/stack.py``;
the compose file and the Kubernetes manifests are checked against it by
:func:`compose_problems` and :func:`k8s_problems` (each also shown to catch a planted
mismatch). The end-to-end test starts the stack's processes natively on loopback
(``infra/local_stack.py``: moto, Prefect server + worker, Dask scheduler + 2 workers), runs the
monthly-refresh deployment through the Prefect API and reads the committed run back from S3.
"""

from __future__ import annotations

import copy
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

import stack  # noqa: E402  (infra/stack.py)

OPERATOR_ENV = ("DASK_SCHEDULER_ADDRESS", "DASK_WORKER_NAME")  # injected into DaskCluster workers
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD",
               "MINIO_ROOT_USER")


def load_compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def load_k8s() -> list[dict]:
    kustomization = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((INFRA / "k8s" / name).read_text()) if d]
    return docs


def role_of(argv: list[str]) -> list[str]:
    return [name for name, role in stack.ROLES.items() if role.matches(argv)]


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


# --------------------------------------------------------------------------- compose


def compose_problems(compose: dict) -> list[str]:
    """Everything in a compose file that disagrees with infra/stack.py (empty when none)."""
    problems: list[str] = []
    services = compose.get("services", {})
    found: dict[str, list[str]] = {}
    for name, svc in services.items():
        if svc.get("image") != stack.IMAGE:
            if name not in ("postgres", "s3"):
                problems.append(f"{name}: image {svc.get('image')!r}, not {stack.IMAGE}")
            continue
        argv = [str(a) for a in svc.get("command", [])]
        roles = role_of(argv)
        if len(roles) != 1:
            problems.append(f"{name}: command {argv} is not exactly one role of infra/stack.py")
            continue
        found.setdefault(roles[0], []).append(name)
        env = svc.get("environment") or {}
        missing = [n for n in stack.ROLES[roles[0]].env if n not in env]
        if missing:
            problems.append(f"{name} ({roles[0]}): environment lacks {missing}")
        tracking = {k: v for k, v in stack.OFFLINE_ENV.items() if str(env.get(k)) != v}
        if tracking:
            problems.append(f"{name} ({roles[0]}): telemetry not off, needs {tracking}")
        if "build" in svc and svc["build"].get("dockerfile") != "docker/Dockerfile":
            problems.append(f"{name}: not built from docker/Dockerfile")
    for role in stack.ROLES:
        if role not in found:
            problems.append(f"no compose service runs {role}")
    if len(found.get("dask-worker", [])) != 2:
        problems.append(f"{len(found.get('dask-worker', []))} dask workers, not 2")
    if problems:
        return problems
    # the addresses the services give each other are the ones the commands listen on
    server = services[found["prefect-server"][0]]["command"]
    scheduler_name = found["dask-scheduler"][0]
    scheduler = services[scheduler_name]["command"]
    want_api = f"http://{found['prefect-server'][0]}:{_flag(server, '--port')}/api"
    want_dask = f"tcp://{scheduler_name}:{_flag(scheduler, '--port')}"
    for role, names in found.items():
        for name in names:
            env = services[name].get("environment") or {}
            if "PREFECT_API_URL" in env and env["PREFECT_API_URL"] != want_api:
                problems.append(f"{name}: PREFECT_API_URL {env['PREFECT_API_URL']} is not {want_api}")
            if "DASK_ADDRESS" in env and env["DASK_ADDRESS"] != want_dask:
                problems.append(f"{name}: DASK_ADDRESS {env['DASK_ADDRESS']} is not {want_dask}")
            if "AWS_ENDPOINT_URL" in env and urlparse(env["AWS_ENDPOINT_URL"]).hostname not in services:
                problems.append(f"{name}: AWS_ENDPOINT_URL names no service")
            for key in CREDENTIALS:
                value = str(env.get(key, "${"))
                if not value.startswith("${"):
                    problems.append(f"{name}: {key} is a literal, not ${{{key}:-dev default}}")
    for name in found["dask-worker"]:
        if services[name]["command"][2] != want_dask:
            problems.append(f"{name}: scheduler address is not {want_dask}")
    for name in (*found["dask-worker"], *found["prefect-worker"]):
        targets = [v.get("target") if isinstance(v, dict) else str(v).split(":")[1]
                   for v in services[name].get("volumes", [])]
        if stack.DELIVERY_MOUNT not in targets:
            problems.append(f"{name}: delivery not mounted at {stack.DELIVERY_MOUNT}")
    return problems


def test_compose_runs_the_roles_of_the_local_stack_with_the_same_image_and_env():
    assert compose_problems(load_compose()) == []


def test_compose_check_catches_a_changed_command_env_or_image():
    compose = load_compose()
    threads = copy.deepcopy(compose)
    cmd = threads["services"]["dask-worker-1"]["command"]
    cmd[cmd.index("--nthreads") + 1] = "4"
    assert any("dask-worker-1" in p for p in compose_problems(threads))
    env = copy.deepcopy(compose)
    del env["services"]["prefect-worker"]["environment"]["DASK_ADDRESS"]
    assert any("DASK_ADDRESS" in p for p in compose_problems(env))
    image = copy.deepcopy(compose)
    image["services"]["dask-scheduler"]["image"] = "bipdask:latest"
    assert any("dask-scheduler" in p for p in compose_problems(image))
    secret = copy.deepcopy(compose)
    secret["services"]["create-bucket"]["environment"]["AWS_SECRET_ACCESS_KEY"] = "hunter22"
    assert any("literal" in p for p in compose_problems(secret))
    tracked = copy.deepcopy(compose)
    del tracked["services"]["dask-scheduler"]["environment"]["DO_NOT_TRACK"]
    assert any("telemetry" in p and "dask-scheduler" in p for p in compose_problems(tracked))


def test_compose_credentials_are_dev_defaults_from_the_environment():
    text = (INFRA / "compose.yaml").read_text()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD"):
        assert re.search(r"\$\{" + key + r":-[^}]+\}", text), key
    # every place a secret value is written is such a reference
    for line in text.splitlines():
        if re.match(r"\s*(AWS_SECRET_ACCESS_KEY|POSTGRES_PASSWORD|MINIO_ROOT_PASSWORD):", line):
            assert "${" in line, line


# --------------------------------------------------------------------------- kubernetes


def _pod_containers(doc: dict) -> list[tuple[str, dict, dict]]:
    """(where, container, pod spec) for every container of a Deployment, Job or DaskCluster."""
    kind = doc.get("kind")
    out = []
    if kind in ("Deployment", "Job"):
        pod = doc["spec"]["template"]["spec"]
        specs = [("", pod)]
    elif kind == "DaskCluster":
        specs = [("worker", doc["spec"]["worker"]["spec"]), ("scheduler", doc["spec"]["scheduler"]["spec"])]
    else:
        return []
    for part, pod in specs:
        for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            out.append((f"{kind}/{doc['metadata']['name']}{'/' + part if part else ''}/{c['name']}", c, pod))
    return out


def k8s_problems(docs: list[dict], kustomization: dict) -> list[str]:
    """Everything in the Kubernetes manifests that disagrees with infra/stack.py."""
    problems: list[str] = []
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d.get("kind") == "ConfigMap"}
    namespace = kustomization.get("namespace", "default")
    name, tag = stack.IMAGE.split(":")
    for image in kustomization.get("images", []):
        if image.get("name") == name and str(image.get("newTag", tag)) != tag:
            problems.append(f"kustomization retags {name} to {image.get('newTag')}, not {tag}")
    found: dict[str, list[tuple[str, dict]]] = {}
    for doc in docs:
        for where, c, _pod in _pod_containers(doc):
            if c.get("image") != stack.IMAGE:
                problems.append(f"{where}: image {c.get('image')!r}, not {stack.IMAGE}")
            argv = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
            roles = role_of(argv)
            if len(roles) != 1:
                problems.append(f"{where}: {argv} is not exactly one role of infra/stack.py")
                continue
            found.setdefault(roles[0], []).append((where, doc))
            env = {e["name"] for e in c.get("env", [])}
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref:
                    cm = ref["configMapRef"]["name"]
                    if cm not in configmaps:
                        problems.append(f"{where}: ConfigMap {cm} is not in the kustomization")
                    env |= set(configmaps.get(cm, {}))
            if doc.get("kind") == "DaskCluster" and "/worker/" in where:
                env |= set(OPERATOR_ENV)
                if doc["spec"]["worker"].get("replicas") != 2:
                    problems.append(f"{where}: {doc['spec']['worker'].get('replicas')} replicas, not 2")
                for var in re.findall(r"\$\((\w+)\)", " ".join(argv)):
                    if var not in env:
                        problems.append(f"{where}: args use $({var}), which is not set")
            missing = [n for n in stack.ROLES[roles[0]].env if n not in env]
            if missing:
                problems.append(f"{where} ({roles[0]}): environment lacks {missing}")
            for e in c.get("env", []):
                if e["name"] in CREDENTIALS and "value" in e:
                    problems.append(f"{where}: {e['name']} has a literal value, not a secretKeyRef")
    for role in stack.ROLES:
        if role != "prefect-server" and role not in found:  # the server: Prefect's Helm chart
            problems.append(f"no container runs {role}")
    for cm, data in configmaps.items():
        for key in CREDENTIALS:
            if key in data:
                problems.append(f"ConfigMap {cm} holds {key}")
    clusters = [d for d in docs if d.get("kind") == "DaskCluster"]
    if len(clusters) != 1:
        return [*problems, f"{len(clusters)} DaskClusters, not 1"]
    port = _flag([str(a) for a in clusters[0]["spec"]["scheduler"]["spec"]["containers"][0]["args"]], "--port")
    want = f"tcp://{clusters[0]['metadata']['name']}-scheduler.{namespace}.svc.cluster.local:{port}"
    for cm, data in configmaps.items():
        if data.get("DASK_ADDRESS") not in (None, want):
            problems.append(f"ConfigMap {cm}: DASK_ADDRESS {data['DASK_ADDRESS']} is not {want}")
    return problems


def test_k8s_manifests_run_the_roles_of_the_local_stack_with_the_same_image_and_env():
    kustomization = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in (INFRA / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")
    docs = load_k8s()
    assert k8s_problems(docs, kustomization) == []
    (cluster,) = [d for d in docs if d["kind"] == "DaskCluster"]
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    mounts = [m["mountPath"] for d in docs for _w, c, _p in _pod_containers(d) for m in c.get("volumeMounts", [])]
    assert stack.DELIVERY_MOUNT in mounts
    # sized for scale 10: Dask's own limit inside the container's, requests = limits (no eviction)
    limit = worker["resources"]["limits"]["memory"]
    assert worker["resources"]["requests"]["memory"] == limit
    assert _gib(_flag(worker["args"], "--memory-limit")) < _gib(limit)


def test_k8s_check_catches_a_changed_command_env_or_image():
    kustomization = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())
    docs = load_k8s()

    def mutated(change):
        d = copy.deepcopy(docs)
        change(d)
        return k8s_problems(d, kustomization)

    def cluster(d):
        return next(x for x in d if x["kind"] == "DaskCluster")

    def worker(d):
        return cluster(d)["spec"]["worker"]["spec"]["containers"][0]

    assert any("DaskCluster" in p for p in mutated(lambda d: worker(d)["args"].remove("--nthreads")))
    assert any("image" in p for p in mutated(lambda d: worker(d).update(image="dask:latest")))
    assert any("PREFECT_API_URL" in p for p in mutated(
        lambda d: next(x for x in d if x["kind"] == "ConfigMap")["data"].pop("PREFECT_API_URL")))
    assert any("DASK_ADDRESS" in p for p in mutated(lambda d: cluster(d)["metadata"].update(name="other")))
    assert any("replicas" in p for p in mutated(lambda d: cluster(d)["spec"]["worker"].update(replicas=1)))


def _gib(quantity: str) -> float:
    units = {"Gi": 1.0, "GiB": 1.0, "Mi": 1 / 1024, "MiB": 1 / 1024, "G": 1e9 / 2**30, "GB": 1e9 / 2**30}
    m = re.fullmatch(r"([\d.]+)\s*([A-Za-z]*)", quantity)
    assert m and m.group(2) in units, quantity
    return float(m.group(1)) * units[m.group(2)]


# --------------------------------------------------------------------------- image, lock, prefect.yaml


def test_image_installs_the_package_from_the_lock_and_copies_what_the_stack_runs():
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert "pip install --no-deps --require-hashes -r docker/requirements.lock" in dockerfile
    assert "pip check" in dockerfile
    assert stack.IMAGE.split(":")[1] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    ignore = (REPO / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            *sources, _dest = line.split()[1:]
            for src in sources:
                assert (REPO / src).exists(), src
                assert src in allowed, f"{src} is filtered out of the build context"
    # the files the compose and Kubernetes one-shot jobs name are in the image
    assert "COPY prefect.yaml" in dockerfile and "COPY infra/stack.py infra/stack.py" in dockerfile
    # the agency runs offline: no usage telemetry from any process of the image
    env = dict(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$", dockerfile, re.M))
    for key, value in stack.OFFLINE_ENV.items():
        assert env.get(key) == value, f"the image does not set {key}={value}"


def _lock_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bipdask_lock", REPO / "docker" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_locks_pin_every_dependency_within_the_projects_ranges_with_hashes():
    """requirements.lock (CI) holds the runtime and test dependencies; docker/requirements.lock
    (the image) is its runtime part: the same versions and hashes, no test package."""
    from packaging.requirements import Requirement

    lock = _lock_module()
    full = lock.pins((REPO / lock.FULL).read_text())
    runtime = lock.pins((REPO / lock.RUNTIME).read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {"runtime": project["dependencies"], "test": project["optional-dependencies"]["test"]}
    for part, texts in wanted.items():
        for text in texts:
            req = Requirement(text)
            key = canonicalize(req.name)
            for name, pins in ((lock.FULL, full), (lock.RUNTIME, runtime)) if part == "runtime" else \
                    ((lock.FULL, full),):
                assert key in pins, f"{req.name} is not pinned in {name}"
                assert req.specifier.contains(pins[key][0], prereleases=True), \
                    f"{req.name}=={pins[key][0]} not in {req.specifier} ({name})"
    for text in wanted["test"]:
        assert canonicalize(Requirement(text).name) not in runtime, f"test-only {text} in the image's lock"
    assert lock.disagreements((REPO / lock.FULL).read_text(), (REPO / lock.RUNTIME).read_text()) == []


def test_lock_check_catches_a_runtime_pin_that_differs_from_the_root_lock():
    lock = _lock_module()
    full = (REPO / lock.FULL).read_text()
    runtime = (REPO / lock.RUNTIME).read_text()
    version = lock.pins(runtime)["numpy"][0]
    moved = runtime.replace(f"numpy=={version} ", "numpy==1.0.0 ")
    assert any(p.startswith("numpy:") for p in lock.disagreements(full, moved))
    digest = next(iter(lock.pins(runtime)["numpy"][1]))
    rehashed = runtime.replace(digest, "sha256:" + "0" * 64)
    assert any("hashes differ" in p for p in lock.disagreements(full, rehashed))


def test_ci_and_readme_install_the_root_lock_with_hashes():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    for text in (ci, readme):
        assert "pip install --quiet --require-hashes -r requirements.lock" in text.replace(" -q ", " --quiet ")
        assert "--no-deps -e ." in text
    assert "'.[test]'" not in ci  # unpinned: CI would test other versions than the image ships


def canonicalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_prefect_yaml_deploys_the_installed_flow_on_the_stacks_pool_and_bucket():
    import importlib

    import flows.deploy

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    module, name = deployment["entrypoint"].split(":")
    assert not module.endswith(".py")  # a module path: the installed package, nothing to pull
    assert config["pull"] == []
    assert getattr(importlib.import_module(module), name) is flows.deploy.monthly_refresh
    assert deployment["work_pool"]["name"] == stack.WORK_POOL == flows.deploy.WORK_POOL
    assert f"{flows.deploy.monthly_refresh.name}/{deployment['name']}" == stack.DEPLOYMENT
    assert deployment["name"] == flows.deploy.DEPLOYMENT_NAME
    assert urlparse(deployment["parameters"]["output_url"]).netloc == stack.BUCKET
    assert deployment["parameters"]["input_dir"].startswith(stack.DELIVERY_MOUNT + "/")


def test_role_templates_render_and_match_only_their_own_command_lines():
    worker = stack.ROLES["dask-worker"]
    argv = worker.render(scheduler="tcp://h:1", name="w", memory_limit="1GiB", dashboard=":0")
    assert worker.matches(argv) and role_of(argv) == ["dask-worker"]
    assert not worker.matches([*argv, "--extra"])
    assert not worker.matches([a if a != "--nthreads" else "--nprocs" for a in argv])
    with pytest.raises(KeyError):
        worker.render(scheduler="tcp://h:1")
    assert stack.ROLES["create-bucket"].matches([sys.executable, "infra/stack.py", "create-bucket", stack.BUCKET])
    assert not stack.ROLES["create-bucket"].matches(["bash", "infra/stack.py", "create-bucket", stack.BUCKET])


# --------------------------------------------------------------------------- the local stack, end to end


@pytest.mark.stack
@pytest.mark.s3
@pytest.mark.dask
@pytest.mark.prefect
def test_local_stack_runs_the_deployment_on_two_dask_workers_and_commits_to_s3(tmp_path):
    """moto + Prefect server/worker + Dask scheduler/2 workers on loopback; the monthly-refresh
    deployment evaluates a small synthetic delivery; the committed run is read back from S3."""
    from local_stack import OUTPUT_URL, LocalStack, small_spec

    import bipdask
    from bipdask.runtime import storage
    from bipdask.spec import load_spec
    from bipdask.synth import generate
    from flows.manifest import spec_dict
    from flows.run import DELIVERY_TABLES
    from flows.version import version_key

    delivery = tmp_path / "delivery"
    generate(delivery, scale=0.03, seed=3)
    spec = str(small_spec(tmp_path / "hir_b10.toml", 10))
    local = LocalStack(tmp_path / "stack", workers=2, memory_limit="1.5GiB")
    with local:
        for proc in local.procs:  # the command lines are the roles' (rendered from infra/stack.py)
            if proc.role in stack.ROLES:
                assert stack.ROLES[proc.role].matches([Path(proc.argv[0]).name, *proc.argv[1:]]), proc.argv
        outcome = local.run_deployment(delivery, spec=spec, seed=7, timeout=600)
        with local.s3_env():
            committed = storage.open_run(OUTPUT_URL)
            estimates = storage.read_parquet(storage.join(committed.url, "results", "estimates.parquet"))
            runs = storage.list_runs(OUTPUT_URL)
    assert local.alive() == []  # everything torn down

    assert outcome.state == "COMPLETED"
    # the run id is the key of this delivery, spec and seed under the code version the flow run
    # recorded (recomputed here from the manifest's code version: the source digest is read
    # when the flow runs, so a checkout edited meanwhile would give another id)
    manifest = committed.manifest
    assert manifest["inputs"]["sha256"] == storage.hash_delivery(delivery, list(DELIVERY_TABLES))
    key = storage.run_key(manifest["inputs"]["sha256"], version_key(manifest["code_version"]),
                          spec_dict(load_spec(spec)), 7)
    assert committed.run_id == outcome.run_id == storage.run_id_from_key(key) and runs == [committed.run_id]
    assert manifest["code_version"]["bipdask"] == bipdask.__version__ and manifest["seed"] == 7
    assert committed.manifest["estimation"]["bootstrap_replicates"] == 10
    # the work ran on the external cluster, on both workers
    assert sorted(outcome.tasks_by_worker) == ["dask-worker-1", "dask-worker-2"]
    assert all(n > 0 for n in outcome.tasks_by_worker.values()), outcome.tasks_by_worker
    # the results: every analysis of the flow, with estimates
    assert len(estimates) == outcome.estimates_rows == committed.manifest["row_counts"]["estimates"]
    assert {"share_internship_or_hours", "hir_table4", "hir_table8", "bip_caseworker_effectiveness"} <= set(
        estimates["analysis"])
    did = estimates[(estimates["analysis"] == "share_internship_or_hours") & estimates["jobcentre_id"].isna()]
    assert not did.empty and did["estimate"].notna().all()
