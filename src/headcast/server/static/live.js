// The live page: one WebRTC connection shows the avatar; text and the microphone feed it.
// Standard APIs only (RTCPeerConnection, getUserMedia, fetch), so Chromium and Firefox alike.
"use strict";

// Gathering normally ends in well under a second on a LAN; a stuck STUN lookup must not block.
const ICE_GATHER_TIMEOUT_MS = 3000;

const live = { pc: null, sessionId: null, micSender: null, micStream: null, actions: 0 };
// Read by tests and by anyone poking at the page from the console.
window.headcastLive = live;

function postJson(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function status(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.className = kind;
}

function setConnected(connected) {
  $("start").disabled = connected;
  $("stop").disabled = !connected;
  for (const id of ["say", "interrupt", "mic"]) $(id).disabled = !connected;
}

// -- connection -------------------------------------------------------------------------------

function iceGatheringDone(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ICE_GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

async function start() {
  setConnected(true);
  showMessage("");
  status("connecting…");
  let iceServers;
  try {
    // STUN/TURN servers the service is configured with (none: direct connections only).
    iceServers = (await (await api("/v1/webrtc/ice-servers")).json()).ice_servers;
  } catch (err) {
    status("not connected", "error");
    showMessage(err.message, true);
    setConnected(false);
    return;
  }
  const pc = new RTCPeerConnection({ iceServers });
  live.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  // Audio both ways: the avatar's voice comes back, the microphone goes out once turned on
  // (replaceTrack later needs no renegotiation).
  live.micSender = pc.addTransceiver("audio", { direction: "sendrecv" }).sender;
  const stream = new MediaStream();
  pc.addEventListener("track", (event) => {
    stream.addTrack(event.track);
    $("avatar").srcObject = stream;
  });
  pc.addEventListener("connectionstatechange", () => {
    const state = pc.connectionState;
    if (state === "connected") status(`live · session ${live.sessionId}`, "live");
    else if (state === "failed" || state === "closed") {
      if (live.pc === pc) {
        status(`connection ${state}`, "error");
        teardown();
      }
    } else status(state);
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringDone(pc);
    const offer = {
      sdp: pc.localDescription.sdp,
      type: "offer",
      size: Number($("size").value),
      head_motion: Number($("head-motion").value),
    };
    const file = $("portrait-file").files[0];
    if (file) offer.image_b64 = await readAsDataUrl(file);
    status("preparing the portrait…");
    const answer = await (await postJson("/v1/webrtc/offer", offer)).json();
    if (live.pc !== pc) {
      // Stopped while the portrait was prepared: free the session the server made.
      api(`/v1/live/${encodeURIComponent(answer.session_id)}`, { method: "DELETE" }).catch(() => {});
      return;
    }
    live.sessionId = answer.session_id;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    status("connecting…");
  } catch (err) {
    status("not connected", "error");
    showMessage(err.message, true);
    teardown();
  }
}

// Free everything on this side; the server frees the session when the connection closes.
function teardown() {
  const pc = live.pc;
  live.pc = null;
  live.sessionId = null;
  live.micSender = null;
  stopMic();
  if (pc) pc.close();
  $("avatar").srcObject = null;
  setConnected(false);
}

async function stop() {
  const id = live.sessionId;
  teardown();
  status("not connected");
  if (id) {
    try {
      await api(`/v1/live/${encodeURIComponent(id)}`, { method: "DELETE" });
    } catch (_) { /* already gone with the connection */ }
  }
}

// -- speech -----------------------------------------------------------------------------------

// The answer to /say comes once all of the text is queued, while the avatar already speaks:
// it must not overwrite what a later action (an interrupt) reported.
async function sayText() {
  const text = $("text").value.trim();
  if (!text || !live.sessionId) return;
  const action = ++live.actions;
  showMessage("speaking…");
  $("text").value = "";
  try {
    const path = `/v1/live/${encodeURIComponent(live.sessionId)}/say`;
    const result = await (await postJson(path, { text, voice: $("voice").value.trim() || null })).json();
    if (action === live.actions) showMessage(`said ${result.queued_s.toFixed(1)} s of speech`);
  } catch (err) {
    if (action === live.actions) showMessage(err.message, true);
  }
}

async function interrupt() {
  if (!live.sessionId) return;
  ++live.actions;
  try {
    await api(`/v1/live/${encodeURIComponent(live.sessionId)}/interrupt`, { method: "POST" });
    showMessage("interrupted");
  } catch (err) {
    showMessage(err.message, true);
  }
}

async function toggleMic() {
  if (live.micStream) {
    stopMic();
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    if (!live.micSender) {
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    await live.micSender.replaceTrack(stream.getAudioTracks()[0]);
    live.micStream = stream;
    $("mic").setAttribute("aria-pressed", "true");
    $("mic").textContent = "Microphone on";
    showMessage("listening: speak, then pause");
  } catch (err) {
    showMessage(`microphone: ${err.message}`, true);
  }
}

function stopMic() {
  if (live.micSender) live.micSender.replaceTrack(null).catch(() => {});
  if (live.micStream) live.micStream.getTracks().forEach((t) => t.stop());
  live.micStream = null;
  $("mic").setAttribute("aria-pressed", "false");
  $("mic").textContent = "Microphone off";
}

// -- page -------------------------------------------------------------------------------------

function init() {
  $("key-form").addEventListener("submit", (event) => event.preventDefault());
  rememberKey();
  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
  $("say").addEventListener("click", sayText);
  $("interrupt").addEventListener("click", interrupt);
  $("mic").addEventListener("click", toggleMic);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      sayText();
    }
  });
  $("portrait-file").addEventListener("change", () => {
    const file = $("portrait-file").files[0];
    $("portrait-preview").src = file ? URL.createObjectURL(file) : "/live/default_portrait.png";
  });
  const video = $("avatar");
  video.addEventListener("playing", () => video.parentElement.classList.add("playing"));
  video.addEventListener("emptied", () => video.parentElement.classList.remove("playing"));
  window.addEventListener("pagehide", () => {
    if (live.pc) live.pc.close();
  });
  setConnected(false);
}

init();
