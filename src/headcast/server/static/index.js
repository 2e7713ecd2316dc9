// The headcast web page: drives /v1/avatars and /v1/jobs with the key typed by the user.
"use strict";

const POLL_INTERVAL_MS = 500;

const state = { avatarId: null, jobId: null, videoUrl: null, polling: null };

// -- portraits ---------------------------------------------------------------------------------

function showEnrolment(box, avatar) {
  const head = document.createElement("p");
  const coverage = avatar.coverage;
  if (avatar.status === "ready" && coverage) {
    head.className = "grade good";
    head.textContent = `Enrolled from a video: ${coverage.usable_s.toFixed(1)} s usable`;
    box.append(head);
    if (coverage.shapes_missing.length) {
      const missing = document.createElement("p");
      missing.textContent = `Mouth shapes not seen: ${coverage.shapes_missing.join(", ")}`;
      box.append(missing);
    }
  } else {
    head.className = avatar.status === "failed" ? "grade poor" : "grade fair";
    head.textContent = avatar.status === "failed"
      ? `Not enrolled: ${avatar.error}` : `Enrolling… ${Math.round(avatar.progress)} %`;
    box.append(head);
  }
  box.hidden = false;
}

function showVerdict(avatar) {
  const box = $("avatar-verdict");
  box.replaceChildren();
  if (avatar.kind === "enrolled") { showEnrolment(box, avatar); return; }
  const score = avatar.score || {};
  const head = document.createElement("p");
  const value = typeof score.score === "number" ? score.score.toFixed(2) : "?";
  const grade = score.score >= 0.6 ? "good" : score.score >= 0.35 ? "fair" : "poor";
  head.className = `grade ${grade}`;
  head.textContent = `Reference score ${value} (${grade})`;
  box.append(head);
  const reasons = [...(score.reasons || []), ...(avatar.warnings || [])];
  if (reasons.length) {
    const list = document.createElement("ul");
    for (const reason of reasons) {
      const item = document.createElement("li");
      item.textContent = reason;
      list.append(item);
    }
    box.append(list);
  }
  box.hidden = false;
}

function selectAvatar(avatar) {
  state.avatarId = avatar.id;
  for (const el of document.querySelectorAll(".avatar")) {
    el.classList.toggle("selected", el.dataset.id === avatar.id);
  }
  showVerdict(avatar);
}

async function thumbnail(avatar) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "avatar";
  button.dataset.id = avatar.id;
  button.title = avatar.kind === "enrolled"
    ? `enrolled from a video (${avatar.status})`
    : `score ${avatar.score ? avatar.score.score.toFixed(2) : "?"}`;
  button.addEventListener("click", () => selectAvatar(avatar));
  const img = document.createElement("img");
  img.alt = "portrait";
  button.append(img);
  try {
    const blob = await (await api(`/v1/avatars/${encodeURIComponent(avatar.id)}/image`)).blob();
    img.src = URL.createObjectURL(blob);
  } catch (_) { img.alt = "(no preview)"; }
  return button;
}

async function loadAvatars() {
  const list = $("avatar-list");
  try {
    const { avatars } = await (await api("/v1/avatars")).json();
    list.replaceChildren(...(await Promise.all(avatars.map(thumbnail))));
    if (!avatars.length) list.textContent = "none yet";
    const current = avatars.find((a) => a.id === state.avatarId);
    if (current) selectAvatar(current);
  } catch (err) {
    list.textContent = `cannot list portraits: ${err.message}`;
  }
}

// The engines the service has, each with its health when it is not usable now; "automatic"
// leaves the choice to the service (its configured engine, else the portrait's own).
async function loadEngines() {
  const select = $("engine");
  const chosen = select.value;
  const automatic = document.createElement("option");
  automatic.value = "";
  automatic.textContent = "automatic";
  try {
    const { engines } = await (await api("/v1/engines")).json();
    const named = Object.entries(engines).map(([name, engine]) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = engine.health === "ok" ? name : `${name} (${engine.health})`;
      return option;
    });
    select.replaceChildren(automatic, ...named);
    select.title = "";
  } catch (err) {
    select.replaceChildren(automatic);
    select.title = `cannot list engines: ${err.message}`;
  }
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

// A video is enrolled as a job: the avatar is polled until it is ready or has failed.
async function followEnrolment(avatar) {
  while (avatar.status === "enrolling") {
    showMessage(`Enrolling the video… ${Math.round(avatar.progress)} %`);
    if (state.avatarId === avatar.id) showVerdict(avatar);
    await new Promise((done) => setTimeout(done, POLL_INTERVAL_MS));
    avatar = await (await api(`/v1/avatars/${encodeURIComponent(avatar.id)}`)).json();
  }
  return avatar;
}

async function uploadPortrait() {
  const file = $("portrait-file").files[0];
  if (!file) return;
  const video = file.type.startsWith("video/");
  showMessage(video ? "Uploading the video…" : "Analysing the photo…");
  const form = new FormData();
  form.append(video ? "video" : "image", file);
  try {
    let avatar = await (await api("/v1/avatars", { method: "POST", body: form })).json();
    state.avatarId = avatar.id;
    await loadAvatars();
    selectAvatar(avatar);
    avatar = await followEnrolment(avatar);
    await loadAvatars();
    if (avatar.status === "failed") throw new Error(avatar.error);
    showMessage(video ? "Avatar enrolled." : "Portrait ready.");
  } catch (err) {
    showMessage(`The ${video ? "video" : "photo"} was refused: ${err.message}`, true);
  }
}

// -- rendering ---------------------------------------------------------------------------------

function speechKind() {
  return document.querySelector('input[name="speech-kind"]:checked').value;
}

function jobForm() {
  const form = new FormData();
  form.append("avatar_id", state.avatarId);
  form.append("format", $("format").value);
  form.append("size", $("size").value);
  if ($("engine").value) form.append("engine", $("engine").value);
  if (speechKind() === "text") {
    const text = $("speech-text").value.trim();
    if (!text) throw new Error("type something for the portrait to say");
    form.append("text", text);
    form.append("voice", $("voice").value.trim() || "en-us");
  } else {
    const audio = $("speech-audio").files[0];
    if (!audio) throw new Error("choose a speech recording");
    form.append("audio", audio);
    const transcript = $("audio-transcript").value.trim();
    if (transcript) form.append("text", transcript);
  }
  return form;
}

function setBusy(busy) {
  $("render").disabled = busy;
  $("cancel").hidden = !busy;
}

async function render() {
  if (!state.avatarId) { showMessage("Upload or choose a portrait first.", true); return; }
  let form;
  try { form = jobForm(); } catch (err) { showMessage(err.message, true); return; }
  $("result").hidden = true;
  setBusy(true);
  showMessage("Submitting…");
  try {
    const job = await (await api("/v1/jobs", { method: "POST", body: form })).json();
    state.jobId = job.id;
    showJob(job);
    poll();
  } catch (err) {
    setBusy(false);
    showMessage(`Not started: ${err.message}`, true);
  }
}

function showJob(job) {
  $("progress").value = job.progress || 0;
  const engine = job.engine ? ` (${job.engine})` : "";
  $("job-state").textContent = `${job.state} ${Math.round(job.progress || 0)}%${engine}`;
}

async function poll() {
  clearTimeout(state.polling);
  if (!state.jobId) return;
  let job;
  try {
    job = await (await api(`/v1/jobs/${encodeURIComponent(state.jobId)}`)).json();
  } catch (err) {
    showMessage(`Lost the job: ${err.message}`, true);
    setBusy(false);
    return;
  }
  showJob(job);
  if (job.state === "queued" || job.state === "running") {
    showMessage(job.state === "queued" ? "Waiting for a free renderer…" : "Rendering…");
    state.polling = setTimeout(poll, POLL_INTERVAL_MS);
    return;
  }
  setBusy(false);
  state.jobId = null;
  if (job.state === "succeeded") await showVideo(job);
  else if (job.state === "failed") showMessage(`Failed: ${job.error ? job.error.message : "unknown error"}`, true);
  else showMessage("Cancelled.");
}

async function showVideo(job) {
  try {
    const blob = await (await api(job.video_url)).blob();
    if (state.videoUrl) URL.revokeObjectURL(state.videoUrl);
    state.videoUrl = URL.createObjectURL(blob);
    const video = $("result-video");
    video.src = state.videoUrl;
    const link = $("download");
    link.href = state.videoUrl;
    link.download = `headcast-${job.id}.${job.format || $("format").value}`;
    $("result").hidden = false;
    showMessage("Done.");
    video.play().catch(() => { /* autoplay with sound may be refused; controls remain */ });
  } catch (err) {
    showMessage(`Cannot fetch the video: ${err.message}`, true);
  }
}

async function cancel() {
  if (!state.jobId) return;
  try {
    await api(`/v1/jobs/${encodeURIComponent(state.jobId)}`, { method: "DELETE" });
  } catch (err) {
    showMessage(`Cannot cancel: ${err.message}`, true);
  }
}

// -- wiring ------------------------------------------------------------------------------------

function init() {
  rememberKey(() => { loadAvatars(); loadEngines(); });
  $("portrait-file").addEventListener("change", uploadPortrait);
  for (const radio of document.querySelectorAll('input[name="speech-kind"]')) {
    radio.addEventListener("change", () => {
      $("speech-text-panel").hidden = speechKind() !== "text";
      $("speech-audio-panel").hidden = speechKind() !== "audio";
    });
  }
  $("render").addEventListener("click", render);
  $("cancel").addEventListener("click", cancel);
  loadAvatars();
  loadEngines();
}

init();
