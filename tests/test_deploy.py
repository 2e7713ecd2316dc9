"""Deployment files: the image is built by the README's install step, the Kubernetes manifests
pass the API schemas offline and refer only to things that exist, and the container's command
serves from an environment built the way the image builds it.

Docker is not available here, so the Dockerfile is read, not built.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import av
import httpx
import kubernetes_validate
import pytest
import yaml

from headcast.render.remote import RemoteEndpoint
from headcast.server import ServerConfig
from headcast.server.app import ROUTERS
from headcast.server.routes import health
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S = ROOT / "deploy" / "k8s"
DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"
GPU_GUIDE = ROOT / "docs" / "gpu.md"
OMNIRT_DOCKERFILE = ROOT / "deploy" / "omnirt.Dockerfile"
MAKEFILE = ROOT / "Makefile"
UV = ROOT / ".tools" / "bin" / "uv"
# The oldest Kubernetes release still common in managed clusters, and the newest schema shipped.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
API_LABELS = {"app.kubernetes.io/name": "headcast", "app.kubernetes.io/component": "api"}
SERVER_START_TIMEOUT_S = 90.0
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The deployment as it is, and with the FlashHead worker on a GPU node (deploy/k8s/gpu).
EVERY_DEPLOYMENT = pytest.mark.parametrize("components", [(), ("gpu",)], ids=["cpu", "gpu"])


# ---------------------------------------------------------------- reading the Dockerfile


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                values[key] = value
        return values

    def json_form(self, keyword: str) -> list[str]:
        (args,) = self.all(keyword)
        return json.loads(args[args.index("[") :])


def read_dockerfile(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.strip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        if (pending + line).strip():
            logical.append(" ".join((pending + line).split()))
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name, []))
        else:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return args, stages


def make_variables() -> dict[str, str]:
    """The Makefile's simple variables, references expanded."""
    values: dict[str, str] = {}
    for line in MAKEFILE.read_text().splitlines():
        match = re.match(r"^(\w+)\s*[:?]?=\s*(.*)$", line)
        if match:
            value = re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], match.group(2).strip())
            values[match.group(1)] = value
    return values


def make_recipe(target: str) -> list[str]:
    """Recipe lines of the Makefile rule whose target (variables expanded) is ``target``."""
    variables = make_variables()
    lines = MAKEFILE.read_text().splitlines()
    for index, line in enumerate(lines):
        head = re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], line.split(":")[0])
        if not line.startswith("\t") and ":" in line and head.strip() == target:
            recipe = []
            for body in lines[index + 1 :]:
                if not body.startswith("\t"):
                    break
                recipe.append(re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], body.strip()))
            return recipe
    raise AssertionError(f"the Makefile has no rule for {target}")


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            excluded = not negated
    return excluded


# ---------------------------------------------------------------- reading the manifests


def read_resources(directory: Path, kustomization: dict) -> list[dict]:
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.load_all((directory / name).read_text(), Loader=YAML_LOADER) if d]
    return docs


def apply_json_patch(doc: dict, operations: list[dict]) -> None:
    """The JSON Patch operations the components use (add, replace) applied to ``doc``."""
    for operation in operations:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in
                          operation["path"].split("/")[1:]]  # fmt: skip
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert operation["op"] in ("add", "replace"), operation
        if isinstance(node, list):
            if last == "-":
                node.append(copy.deepcopy(operation["value"]))
            elif operation["op"] == "add":
                node.insert(int(last), copy.deepcopy(operation["value"]))
            else:
                node[int(last)] = copy.deepcopy(operation["value"])
        else:
            assert operation["op"] == "add" or last in node, operation
            node[last] = copy.deepcopy(operation["value"])


@functools.cache
def manifests(components: tuple[str, ...] = ()) -> list[dict]:
    """Every resource the kustomization applies with ``components`` (directories under
    deploy/k8s) enabled, as kustomize renders them (shared between tests: never change them)."""
    docs = read_resources(K8S, yaml.safe_load((K8S / "kustomization.yaml").read_text()))
    for name in components:
        directory = K8S / name
        component = yaml.safe_load((directory / "kustomization.yaml").read_text())
        assert component["kind"] == "Component"
        docs += read_resources(directory, component)
        for patch in component.get("patches", []):
            target = patch["target"]
            (doc,) = [
                d for d in docs
                if d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"]
            ]  # fmt: skip
            apply_json_patch(doc, yaml.safe_load((directory / patch["path"]).read_text()))
    return docs


def of_kind(kind: str, components: tuple[str, ...] = ()) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in manifests(components) if d["kind"] == kind}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pods_selected(selector: dict[str, str], components: tuple[str, ...] = ()) -> list[dict]:
    """Pod templates of the Deployments whose labels the selector matches."""
    return [
        d["spec"]["template"]
        for d in of_kind("Deployment", components).values()
        if selects(selector, d["spec"]["template"]["metadata"]["labels"])
    ]


def container_ports(pod: dict) -> dict[str | int, int]:
    """Every way a port of the pod can be named (its name or number) → its number."""
    ports: dict[str | int, int] = {}
    for container in pod["spec"]["containers"]:
        for port in container.get("ports", []):
            ports[port["containerPort"]] = port["containerPort"]
            if "name" in port:
                ports[port["name"]] = port["containerPort"]
    return ports


def api_deployment(components: tuple[str, ...] = ()) -> dict:
    (deployment,) = [
        d for d in of_kind("Deployment", components).values()
        if selects(API_LABELS, d["spec"]["template"]["metadata"]["labels"])
    ]  # fmt: skip
    return deployment


def api_container(components: tuple[str, ...] = ()) -> dict:
    (container,) = api_deployment(components)["spec"]["template"]["spec"]["containers"]
    return container


def config_map_env(components: tuple[str, ...] = ()) -> dict[str, str]:
    container = api_container(components)
    env: dict[str, str] = {}
    config_maps = of_kind("ConfigMap", components)
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    return env


# ---------------------------------------------------------------- the manifests


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(on_disk)


@EVERY_DEPLOYMENT
def test_manifests_pass_the_kubernetes_schemas(components):
    docs = manifests(components)
    assert {d["kind"] for d in docs} >= {
        "Deployment", "Service", "Ingress", "PersistentVolumeClaim",
        "HorizontalPodAutoscaler", "ConfigMap",
    }  # fmt: skip
    for version in KUBERNETES_VERSIONS:
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)
    # The validation is real: a misspelt field is refused.
    broken = copy.deepcopy(api_deployment(components))
    broken["spec"]["template"]["spec"]["contianers"] = broken["spec"]["template"]["spec"].pop(
        "containers"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


@EVERY_DEPLOYMENT
def test_every_volume_claim_is_defined_and_the_shared_one_is_read_write_many(components):
    claims = of_kind("PersistentVolumeClaim", components)
    used = set()
    for deployment in of_kind("Deployment", components).values():
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                name = volume["persistentVolumeClaim"]["claimName"]
                assert name in claims, f"{deployment['metadata']['name']} mounts undefined {name}"
                used.add(name)
    assert used == set(claims), f"claims nothing mounts: {set(claims) - used}"
    # The API pods run as several replicas on any node, all mounting the data volume.
    hpa = of_kind("HorizontalPodAutoscaler", components)["headcast"]
    assert api_deployment(components)["spec"]["replicas"] > 1 and hpa["spec"]["maxReplicas"] > 1
    for volume in api_deployment(components)["spec"]["template"]["spec"]["volumes"]:
        if "persistentVolumeClaim" in volume:
            claim = claims[volume["persistentVolumeClaim"]["claimName"]]
            assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


@EVERY_DEPLOYMENT
def test_label_selectors_select_pods(components):
    for name, deployment in of_kind("Deployment", components).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], labels), name
    for name, pdb in of_kind("PodDisruptionBudget", components).items():
        assert pods_selected(pdb["spec"]["selector"]["matchLabels"], components), name
    for name, policy in of_kind("NetworkPolicy", components).items():
        (target,) = pods_selected(policy["spec"]["podSelector"]["matchLabels"], components)
        for rule in policy["spec"]["ingress"]:
            for peer in rule["from"]:
                assert pods_selected(peer["podSelector"]["matchLabels"], components), name
            for port in rule["ports"]:
                assert port["port"] in container_ports(target), name


@EVERY_DEPLOYMENT
def test_services_reach_a_container_port_and_the_ingress_reaches_a_service(components):
    services = of_kind("Service", components)
    for name, service in services.items():
        (pod,) = pods_selected(service["spec"]["selector"], components)
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports(pod), f"{name}: {port}"
    for name, ingress in of_kind("Ingress", components).items():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, name
                ports = services[backend["name"]]["spec"]["ports"]
                wanted = backend["port"]
                assert any(
                    wanted.get("name") == p.get("name") or wanted.get("number") == p["port"]
                    for p in ports
                )
    assert services["headcast"]["spec"]["selector"] == API_LABELS


@EVERY_DEPLOYMENT
def test_ingress_lets_through_the_largest_request_the_service_accepts(components):
    (ingress,) = of_kind("Ingress", components).values()
    body_size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert body_size.endswith("m")  # nginx: mebibytes
    config = ServerConfig.from_env({**config_map_env(components), "HEADCAST_API_KEYS": "k"})
    assert int(body_size[:-1]) * 1024 * 1024 >= config.max_request_bytes


@EVERY_DEPLOYMENT
def test_autoscaler_targets_the_api_deployment_whose_pods_request_cpu(components):
    for name, hpa in of_kind("HorizontalPodAutoscaler", components).items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment"), name
        assert target["name"] == api_deployment(components)["metadata"]["name"]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # Utilisation targets are a share of the request: without one the autoscaler does nothing.
    assert api_container(components)["resources"]["requests"]["cpu"]


@EVERY_DEPLOYMENT
def test_probes_ask_the_health_routes_on_the_served_port(components):
    container = api_container(components)
    ports = container_ports(api_deployment(components)["spec"]["template"])
    served_port = int(config_map_env(components)["HEADCAST_PORT"])
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports[get["port"]] == served_port, probe
    assert health.router in ROUTERS
    app_paths = {route.path for route in health.router.routes}
    assert {"/healthz", "/readyz"} <= app_paths


@EVERY_DEPLOYMENT
def test_configuration_is_what_headcast_serve_reads(components):
    env = config_map_env(components)
    known = {"HEADCAST_" + name.upper() for name in ServerConfig.__dataclass_fields__}
    for source in (ROOT / "src" / "headcast").rglob("*.py"):
        known |= set(re.findall(r"[\"'](HEADCAST_[A-Z0-9_]+)[\"']", source.read_text()))
    container_env = {e["name"] for e in api_container(components).get("env", [])}
    _, stages = read_dockerfile()
    image_env = {k for k in stages[-1].env() if k.startswith("HEADCAST_")}
    for name in set(env) | container_env | image_env:
        assert name in known, f"{name} is not a setting headcast reads"
    config = ServerConfig.from_env({**env, "HEADCAST_API_KEYS": "k"})
    assert config.data_dir == Path(stages[-1].env()["HEADCAST_DATA_DIR"])
    # The Redis URL names the bundled Redis Service and its port.
    redis = re.match(r"redis://([\w.-]+):(\d+)/\d+$", config.redis_url or "")
    assert redis, config.redis_url
    service = of_kind("Service", components)[redis.group(1)]
    assert int(redis.group(2)) in [p["port"] for p in service["spec"]["ports"]]


@EVERY_DEPLOYMENT
def test_paths_written_at_run_time_are_writable_mounts(components):
    pod = api_deployment(components)["spec"]["template"]["spec"]
    container = api_container(components)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(mounts.values()) == set(volumes)
    _, stages = read_dockerfile()
    image_env = stages[-1].env()
    written = [
        config_map_env(components)["HEADCAST_DATA_DIR"], image_env["HEADCAST_CACHE_DIR"],
        image_env["MPLCONFIGDIR"], "/tmp",
    ]  # fmt: skip
    for path in written:
        assert any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts), path
    data_volume = volumes[mounts[config_map_env(components)["HEADCAST_DATA_DIR"]]]
    assert data_volume["persistentVolumeClaim"]["claimName"] == "headcast-data"


@EVERY_DEPLOYMENT
def test_secrets_are_defined_or_their_creation_is_documented(components):
    guide = DEPLOY_GUIDE.read_text() + (GPU_GUIDE.read_text() if "gpu" in components else "")
    secrets = of_kind("Secret", components)
    referenced: list[tuple[str, str, str | None]] = []  # (type, name, key)
    for deployment in of_kind("Deployment", components).values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.append(("generic", ref["name"], ref["key"]))
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                for item in volume["secret"]["items"]:
                    referenced.append(("generic", volume["secret"]["secretName"], item["key"]))
    for ingress in of_kind("Ingress", components).values():
        for tls in ingress["spec"].get("tls", []):
            referenced.append(("tls", tls["secretName"], None))
    assert ("generic", "headcast-api-keys", "api-keys") in referenced
    env_names = {e["name"]: e for e in api_container(components)["env"]}
    assert "secretKeyRef" in env_names["HEADCAST_API_KEYS"]["valueFrom"]
    for kind, name, key in referenced:
        if name in secrets:
            defined = secrets[name].get("data", {}) | secrets[name].get("stringData", {})
            assert key is None or key in defined, f"Secret {name} has no {key}"
            continue
        found = re.search(rf"kubectl create secret {kind} {re.escape(name)}\b[^\n]*", guide)
        assert found, f"the deployment guides do not say how to create the Secret {name}"
        command = found.group(0)
        if key:
            assert f"--from-literal={key}=" in command or f"--from-file={key}=" in command, name


# ---------------------------------------------------------------- the GPU worker

GPU = ("gpu",)
WORKER_LABELS = {"app.kubernetes.io/name": "headcast", "app.kubernetes.io/component": "flashhead"}
WEIGHTS_CLAIM = "headcast-flashhead-weights"


def worker_deployment() -> dict:
    (template,) = pods_selected(WORKER_LABELS, GPU)
    (deployment,) = [
        d for d in of_kind("Deployment", GPU).values() if d["spec"]["template"] is template
    ]
    return deployment


def test_gpu_component_lists_every_manifest_and_patch():
    component = yaml.safe_load((K8S / "gpu" / "kustomization.yaml").read_text())
    listed = component["resources"] + [patch["path"] for patch in component["patches"]]
    on_disk = {p.name for p in (K8S / "gpu").glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(on_disk)
    # The CPU deployment stays as it was: the worker comes only with the component.
    assert not pods_selected(WORKER_LABELS)
    assert "HEADCAST_ENGINE" not in config_map_env()


def test_gpu_component_renders_as_kustomize_renders_it(tmp_path):
    """The component is read here as kustomize reads it: kubectl's kustomize, where installed,
    renders the same resources."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    copied = tmp_path / "k8s"
    shutil.copytree(K8S, copied)
    kustomization = yaml.safe_load((copied / "kustomization.yaml").read_text())
    kustomization["components"] = list(GPU)
    (copied / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(copied)], capture_output=True, text=True, timeout=120
    )
    assert rendered.returncode == 0, rendered.stderr
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered.stdout)}
    assert by_name == {(d["kind"], d["metadata"]["name"]): d for d in manifests(GPU)}


def test_the_worker_asks_for_a_gpu_node_and_tolerates_its_taint():
    deployment = worker_deployment()
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    resources = container["resources"]
    # Extended resources are whole units, requested and limited alike.
    assert resources["limits"]["nvidia.com/gpu"] == 1
    assert resources["requests"].get("nvidia.com/gpu", 1) == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    # Nothing else may ask for the GPU: the API pods stay on CPU nodes.
    for name, other in of_kind("Deployment", GPU).items():
        if other is not deployment:
            for c in other["spec"]["template"]["spec"]["containers"]:
                assert "nvidia.com/gpu" not in c["resources"].get("limits", {}), name
    # One GPU and a ReadWriteOnce weights volume: one pod, the old one gone before the new.
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_the_weights_claim_is_defined_and_mounted_where_the_image_looks():
    claim = of_kind("PersistentVolumeClaim", GPU)[WEIGHTS_CLAIM]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # SoulX-FlashHead-1_3B is about 15 GB, wav2vec2-base-960h about 1 GB.
    assert int(claim["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")) >= 20
    pod = worker_deployment()["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == WEIGHTS_CLAIM
    (server,) = pod["containers"]
    (fetcher,) = pod["initContainers"]
    (server_mount,) = [m for m in server["volumeMounts"] if m["name"] == volume["name"]]
    (fetcher_mount,) = [m for m in fetcher["volumeMounts"] if m["name"] == volume["name"]]
    # The server only reads the weights; the init container puts them there first.
    assert server_mount["readOnly"] is True and not fetcher_mount.get("readOnly")
    assert fetcher_mount["mountPath"] == server_mount["mountPath"]
    _, stages = read_dockerfile(OMNIRT_DOCKERFILE)
    image_env = stages[-1].env()
    script = fetcher["command"][-1]
    for setting, repository in (
        ("OMNIRT_FLASHHEAD_CKPT_DIR", "Soul-AILab/SoulX-FlashHead-1_3B"),
        ("OMNIRT_FLASHHEAD_WAV2VEC_DIR", "facebook/wav2vec2-base-960h"),
    ):
        path = Path(image_env[setting])
        assert path.parent == Path(server_mount["mountPath"]), setting
        assert re.search(rf"fetch {re.escape(repository)} {re.escape(path.name)}\n", script)
    assert 'huggingface-cli download "$1" --local-dir "/models/$2"' in script
    assert fetcher["image"] == server["image"]


def test_the_worker_serves_the_image_command_with_the_key_headcast_sends():
    pod = worker_deployment()["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    _, stages = read_dockerfile(OMNIRT_DOCKERFILE)
    runtime = stages[-1]
    command = runtime.json_form("CMD")
    assert server["args"] == command and command[:2] == ["omnirt", "serve"]
    (exposed,) = runtime.all("EXPOSE")
    port = int(command[command.index("--port") + 1])
    assert int(exposed) == port
    assert container_ports(worker_deployment()["spec"]["template"])["http"] == port
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and int(uid) != 0
    assert (security["runAsUser"], security["runAsGroup"]) == (int(uid), int(gid))
    # OmniRT reads its keys from a file: the Secret's key, mounted where the command says.
    key_file = Path(command[command.index("--api-key-file") + 1])
    mounts = {m["name"]: m for m in server["volumeMounts"]}
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert mounts[volume["name"]]["mountPath"] == str(key_file.parent)
    (item,) = volume["secret"]["items"]
    assert item["path"] == key_file.name
    api_env = {e["name"]: e for e in api_container(GPU)["env"]}
    assert api_env["HEADCAST_ENGINE_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": volume["secret"]["secretName"], "key": item["key"],
    }  # fmt: skip
    # OmniRT's own routes: alive on /healthz, taking requests on /readyz.
    probes = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in probes.items():
        assert server[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    # The working directory and HOME (OmniRT's outputs, torch's caches) are writable.
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert runtime.env()["HOME"] == "/tmp" and runtime.all("WORKDIR") == ["/tmp"]
    assert "/tmp" in {m["mountPath"] for m in server["volumeMounts"]}


def test_only_the_api_pods_reach_the_worker():
    policies = [
        p for p in of_kind("NetworkPolicy", GPU).values()
        if selects(p["spec"]["podSelector"]["matchLabels"], WORKER_LABELS)
    ]  # fmt: skip
    (policy,) = policies
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert peers == [{"podSelector": {"matchLabels": API_LABELS}}]


def test_the_api_renders_through_the_worker_service():
    env = config_map_env(GPU)
    assert env["HEADCAST_ENGINE"] == "omnirt"
    url = urlsplit(env["HEADCAST_ENGINE_URL"])
    assert (url.scheme, url.path) == ("ws", "/v1/avatar/realtime")
    service = of_kind("Service", GPU)[url.hostname]
    (template,) = pods_selected(service["spec"]["selector"], GPU)
    assert template is worker_deployment()["spec"]["template"]
    assert url.port in [p["port"] for p in service["spec"]["ports"]]
    # headcast reads these settings as they are written.
    endpoint = RemoteEndpoint(
        url=env["HEADCAST_ENGINE_URL"],
        model=env["HEADCAST_ENGINE_MODEL"],
        timeout_s=float(env["HEADCAST_ENGINE_TIMEOUT"]),
    )
    assert endpoint.server == env["HEADCAST_ENGINE_URL"]


def test_the_worker_image_installs_both_projects_at_pinned_commits_without_weights():
    _, stages = read_dockerfile(OMNIRT_DOCKERFILE)
    build, runtime = stages[0], stages[-1]
    assert build.base.startswith("nvidia/cuda:") and "-devel-" in build.base
    assert runtime.base.startswith("nvidia/cuda:") and "-runtime-" in runtime.base
    pins = dict(a.partition("=")[::2] for a in build.all("ARG"))
    for name in ("FLASHHEAD_COMMIT", "OMNIRT_COMMIT"):
        assert re.fullmatch(r"[0-9a-f]{40}", pins[name]), name
    runs = " && ".join(build.all("RUN"))
    # SoulX-FlashHead's README: torch for CUDA 12.8, its requirements, FlashAttention, ffmpeg.
    assert "git clone https://github.com/Soul-AILab/SoulX-FlashHead.git" in runs
    assert "checkout --quiet ${FLASHHEAD_COMMIT}" in runs
    assert (
        "pip install torch==2.7.1 torchvision==0.22.1 "
        "--index-url https://download.pytorch.org/whl/cu128" in runs
    )
    assert "pip install -r /opt/SoulX-FlashHead/requirements.txt" in runs
    assert "pip install flash_attn==2.8.0.post2 --no-build-isolation" in runs
    assert "ffmpeg" in " ".join(runtime.all("RUN"))
    # OmniRT's Docker page: its runtime and server extras.
    assert "git clone https://github.com/datascale-ai/omnirt.git" in runs
    assert "checkout --quiet ${OMNIRT_COMMIT}" in runs
    assert 'pip install "/tmp/omnirt[runtime,server]"' in runs
    # The weights come from the volume, never from the image.
    text = OMNIRT_DOCKERFILE.read_text()
    assert not re.search(r"^(?!#).*(huggingface-cli|hf) download", text, re.M)
    assert not [c for c in runtime.all("COPY") if "--from=" not in c], "nothing from the context"
    healthcheck = runtime.json_form("HEALTHCHECK")
    assert "/healthz" in " ".join(healthcheck)


# ---------------------------------------------------------------- the Dockerfile


def test_image_is_built_by_the_makefile_install_without_dev_tools():
    _, stages = read_dockerfile()
    assert len(stages) >= 2, "multi-stage: build tools stay out of the runtime image"
    build, runtime = stages[0], stages[-1]
    variables = make_variables()
    # `make` bootstraps the pinned uv and syncs the locked environment, as on a developer machine.
    commands = [
        c.strip() for run in build.all("RUN") for c in re.sub(r"^(--\S+\s+)+", "", run).split("&&")
    ]  # fmt: skip
    make_targets = [shlex.split(c)[1] for c in commands if c.startswith("make ")]
    assert make_targets == [variables["UV"], variables["STAMP"]]
    assert (
        "pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)" in MAKEFILE.read_text()
    )
    stamp_sync = make_recipe(variables["STAMP"])[0]
    assert stamp_sync.startswith(f"{variables['UV']} sync --frozen")
    # The service's web stack is the serve extra's: the image and `make test` install it.
    assert "--extra serve" in stamp_sync
    # Any uv run by hand is the Makefile's uv, with the same frozen sync and extra.
    for run in build.all("RUN"):
        if "uv " in run and "make " not in run:
            assert f"{variables['UV']} sync --frozen --extra serve" in run, run
    assert not re.search(r"uv==(?!\$)", DOCKERFILE.read_text()), "the uv pin lives in the Makefile"
    build_env = build.env()
    assert build_env["UV_NO_DEV"] == "1" and build_env["UV_NO_EDITABLE"] == "1"
    assert build_env["UV_PYTHON_DOWNLOADS"] == "never"
    # The runtime stage holds the environment only, at the path its scripts were written for.
    assert runtime.base == build.base
    venv = f"/app/{variables['VENV']}"
    assert f"--from={build.name} {venv} {venv}" in runtime.all("COPY")
    assert runtime.env()["PATH"].startswith(f"{venv}/bin:")
    assert not any("apt-get" in run for run in runtime.all("RUN")), "wheels bundle their libraries"
    # The build fails unless the engine renders in the environment the runtime stage copies.
    assert any(run.startswith(f"{variables['VENV']}/bin/headcast say ") for run in build.all("RUN"))


def test_image_python_is_one_the_project_supports():
    _, stages = read_dockerfile()
    version = re.match(r"python:(\d+)\.(\d+)-slim", stages[-1].base)
    assert version, stages[-1].base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low = re.search(r">=(\d+)\.(\d+)", requires)
    high = re.search(r"<(\d+)\.(\d+)", requires)
    image = tuple(map(int, version.groups()))
    assert tuple(map(int, low.groups())) <= image < tuple(map(int, high.groups()))


def test_runtime_user_port_healthcheck_and_command_match_the_manifests():
    _, stages = read_dockerfile()
    runtime = stages[-1]
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric non-root user, checkable by runAsNonRoot"
    assert f"--uid {uid}" in runtime.all("RUN")[0]
    pod_security = api_deployment()["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert (pod_security["runAsUser"], pod_security["runAsGroup"]) == (int(uid), int(gid or uid))
    (exposed,) = runtime.all("EXPOSE")
    assert (
        int(exposed)
        == int(runtime.env()["HEADCAST_PORT"])
        == int(config_map_env()["HEADCAST_PORT"])
    )
    assert int(exposed) in container_ports(api_deployment()["spec"]["template"]).values()
    healthcheck = runtime.json_form("HEALTHCHECK")
    assert "/healthz" in " ".join(healthcheck)
    command = runtime.json_form("CMD")
    assert command[:2] == ["headcast", "serve"] and "0.0.0.0" in command
    assert api_container()["args"] == command


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_local():
    _, stages = read_dockerfile()
    sources = []
    for stage in stages:
        for copy_args in stage.all("COPY"):
            words = [w for w in copy_args.split() if not w.startswith("--")]
            if "--from=" not in copy_args:
                sources += words[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignore_excludes(source), f".dockerignore leaves out {source}"
    assert not dockerignore_excludes("src/headcast/server/app.py")
    for local in (".venv/bin/python", ".tools/bin/uv", ".git/HEAD", "out/demo.mp4",
                  "src/headcast/__pycache__/cli.cpython-311.pyc", "tests/media/obama.jpg"):  # fmt: skip
        assert dockerignore_excludes(local), local


# ---------------------------------------------------------------- the container's command


def synced_environment(target: Path, *options: str) -> Path:
    """A virtual environment at ``target`` synced as the image's build stage syncs (no dev
    group, the project as a wheel), from uv's cache, with uv's ``options`` added."""
    if not UV.exists():
        pytest.skip("the Makefile's uv is not bootstrapped (run `make test`)")
    _, stages = read_dockerfile()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env |= stages[0].env() | {
        "UV_PROJECT_ENVIRONMENT": str(target),
        "UV_OFFLINE": "1",
        # The interpreter whose wheels `make` put in the cache.
        "UV_PYTHON": sys.executable,
        # Speed only: hard links from the cache, no bytecode compilation.
        "UV_LINK_MODE": "hardlink",
        "UV_COMPILE_BYTECODE": "0",
    }
    sync = subprocess.run(
        # The cache may hold a wheel of headcast built from older sources.
        [str(UV), "sync", "--frozen", *options, "--quiet", "--reinstall-package", "headcast"],
        cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert sync.returncode == 0, sync.stderr
    installed = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import pytest"], capture_output=True
    )
    assert installed.returncode != 0, "the environment must not hold the dev group"
    return target


@pytest.fixture(scope="module")
def image_environment(tmp_path_factory) -> Path:
    """What the container's command runs in: the project with its serve extra."""
    return synced_environment(tmp_path_factory.mktemp("image") / "venv", "--extra", "serve")


def test_a_library_install_holds_no_web_stack(tmp_path):
    """`pip install headcast` without the extra: the library works, `headcast serve` says what
    to install."""
    venv = synced_environment(tmp_path / "venv")
    web_stack = ["fastapi", "starlette", "uvicorn", "aiortc", "redis", "prometheus_client"]
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.util, sys\n"
         "import headcast.animate, headcast.lipsync, headcast.session\n"
         f"print([m for m in {web_stack!r} if importlib.util.find_spec(m)])"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"
    serve = subprocess.run(
        [str(venv / "bin" / "headcast"), "serve"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert serve.returncode == 2
    assert serve.stderr.strip().splitlines() == [
        "headcast: error: headcast serve needs the serve extra (fastapi, uvicorn, "
        "python_multipart, swagger_ui_bundle, aiortc, prometheus_client, redis missing): "
        "pip install 'headcast[serve]'"
    ]


def container_environment(venv: Path, data: Path, port: int) -> dict[str, str]:
    """The image's ENV and the Deployment's settings, with paths moved under ``data``."""
    _, stages = read_dockerfile()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADCAST_")}
    for key, value in (stages[-1].env() | config_map_env()).items():
        if value.startswith(("/data", "/tmp")):
            value = str(data) + value
        value = value.replace("/app/.venv", str(venv)).replace("$PATH", os.environ["PATH"])
        env[key] = value
    env["HEADCAST_PORT"] = str(port)
    env["HEADCAST_API_KEYS"] = "deploy-test-key"
    return env


def listens_on_all_addresses(port: int) -> bool:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port and set(address) == {"0"}:
                return True
    return False


def wait_ready(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(base_url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the container's command did not become ready")


@pytest.fixture
def redis_server(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip()
        != b"PONG"
    ):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_two_replicas_from_the_container_command_share_jobs(
    image_environment, redis_server, tmp_path
):
    """Two pods as the Deployment runs them: the image's command and settings, one Redis, one
    data volume. A job submitted through one is rendered and downloaded through the other."""
    _, stages = read_dockerfile()
    runtime = stages[-1]
    replicas = []
    for _ in range(2):
        port = free_port()
        env = container_environment(image_environment, tmp_path, port)
        env["HEADCAST_REDIS_URL"] = redis_server
        data_dir = Path(env["HEADCAST_DATA_DIR"])
        data_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            runtime.json_form("CMD"), env=env, cwd=data_dir,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        replicas.append((process, f"http://127.0.0.1:{port}", port, env))
    key = {"Authorization": "Bearer " + replicas[0][3]["HEADCAST_API_KEYS"]}
    try:
        for process, base, _, _ in replicas:
            wait_ready(base, process)
        (_, first, port, env), (_, second, _, _) = replicas
        assert listens_on_all_addresses(port)
        assert httpx.get(first + "/healthz").json() == {"status": "ok"}
        healthcheck = subprocess.run(runtime.json_form("HEALTHCHECK"), env=env, timeout=30)
        assert healthcheck.returncode == 0
        # The key from the Secret opens the API; nothing else does.
        assert httpx.get(first + "/v1/jobs").status_code == 401
        with (ROOT / "samples" / "astronaut.png").open("rb") as photo:
            avatar = httpx.post(
                first + "/v1/avatars", files={"image": photo}, headers=key, timeout=60
            )
        assert avatar.status_code == 201, avatar.text
        form = {"avatar_id": avatar.json()["id"], "text": "Hello there.", "size": "128"}
        job = httpx.post(first + "/v1/jobs", data=form, headers=key, timeout=30)
        assert job.status_code == 202, job.text
        job_url = f"{second}/v1/jobs/{job.json()['id']}"
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while (state := httpx.get(job_url, headers=key).json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["state"] == "succeeded", state
        video = httpx.get(second + state["video_url"], headers=key, timeout=30)
        assert video.status_code == 200
        assert video.headers["content-type"] == "video/mp4"
        with av.open(io.BytesIO(video.content)) as container:
            frames = [f for f in container.decode(video=0)]
        assert frames and (frames[0].width, frames[0].height) == (128, 128)
    finally:
        # Kubernetes stops a pod with SIGTERM: the server shuts down cleanly, well within the
        # grace period, and exits as the signal asked (uvicorn re-raises it).
        for process, *_ in replicas:
            process.send_signal(signal.SIGTERM)
        logs = [(process.wait(timeout=60), process.stderr.read()) for process, *_ in replicas]
    for returncode, log in logs:
        assert returncode in (0, -signal.SIGTERM), log
        assert "Application shutdown complete" in log
