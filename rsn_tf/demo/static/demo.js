// RSN-TF web demo: upload a photo, show depth, confidence and a rotatable point cloud.
// Plain JavaScript, no library: the point cloud is drawn on a 2D canvas (painter's order).
"use strict";

const $ = (id) => document.getElementById(id);
let current = null;            // the last result from /api/predict
let yaw = 0.35, pitch = -0.2;  // view angles of the point cloud, radians

function setMessage(text, state) {
  $("message").textContent = text;
  $("message").dataset.state = state;
}

function decode(b64, Type) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
}

async function upload(file) {
  if (!file) return;
  setMessage(`Estimating depth for ${file.name}...`, "busy");
  const form = new FormData();
  form.append("image", file);
  let reply, body;
  try {
    reply = await fetch("/api/predict", { method: "POST", body: form });
    body = await reply.json();
  } catch (err) {
    setMessage(`The server did not answer (${err}).`, "error");
    return;
  }
  if (!reply.ok) {
    setMessage(`Could not use ${file.name}: ${body.error}`, "error");
    return;
  }
  show(body, file.name);
}

function show(result, name) {
  current = result;
  current.depthMm = decode(result.depth_mm, Uint16Array);
  current.xyz = decode(result.points, Float32Array);
  current.rgb = decode(result.colors, Uint8Array);
  $("depth").src = result.depth_image;
  $("colour-bar").src = result.colour_bar;
  $("confidence-panel").hidden = !result.confidence_image;
  if (result.confidence_image) $("confidence").src = result.confidence_image;
  $("download-png").href = result.downloads.png;
  $("download-ply").href = result.downloads.ply;
  $("camera").textContent = `Intrinsics: ${result.intrinsics.source}.`;
  $("result").hidden = false;
  drawCloud();
  setMessage(`${name}: ${result.width}x${result.height}, median depth ${result.median_depth_m.toFixed(2)} m.`, "done");
}

function readout(event) {
  if (!current) return;
  const img = event.target, box = img.getBoundingClientRect();
  const x = Math.min(current.width - 1, Math.floor((event.clientX - box.left) / box.width * current.width));
  const y = Math.min(current.height - 1, Math.floor((event.clientY - box.top) / box.height * current.height));
  const metres = current.depthMm[y * current.width + x] / 1000;
  $("readout").textContent = `x ${x}, y ${y}: ${metres.toFixed(2)} m`;
}

function drawCloud() {
  const canvas = $("cloud"), ctx = canvas.getContext("2d");
  ctx.fillStyle = "#111";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!current) return;
  const n = current.xyz.length / 3, xyz = current.xyz;
  let cz = 0;
  for (let i = 0; i < n; i++) cz += xyz[3 * i + 2];
  cz /= n;  // rotate about the cloud's mean depth, on the optical axis
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const order = new Array(n), px = new Float32Array(n), py = new Float32Array(n), pz = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = xyz[3 * i], y = xyz[3 * i + 1], z = xyz[3 * i + 2] - cz;
    const x1 = cy * x + sy * z, z1 = -sy * x + cy * z;
    const y2 = cp * y - sp * z1, z2 = sp * y + cp * z1;
    px[i] = x1; py[i] = y2; pz[i] = z2 + cz; order[i] = i;
  }
  order.sort((a, b) => pz[b] - pz[a]);  // far first
  const f = canvas.height * 0.9, ox = canvas.width / 2, oy = canvas.height / 2, eye = cz * 1.6;
  for (const i of order) {
    const depth = pz[i] + eye - cz;
    if (depth <= 0.05) continue;
    const u = ox + f * px[i] / depth, v = oy + f * py[i] / depth;
    ctx.fillStyle = `rgb(${current.rgb[3 * i]},${current.rgb[3 * i + 1]},${current.rgb[3 * i + 2]})`;
    ctx.fillRect(u, v, 2, 2);
  }
}

let dragging = null;
$("cloud").addEventListener("mousedown", (e) => { dragging = [e.clientX, e.clientY]; });
window.addEventListener("mouseup", () => { dragging = null; });
window.addEventListener("mousemove", (e) => {
  if (!dragging) return;
  yaw += (e.clientX - dragging[0]) * 0.01;
  pitch = Math.max(-1.4, Math.min(1.4, pitch + (e.clientY - dragging[1]) * 0.01));
  dragging = [e.clientX, e.clientY];
  drawCloud();
});
$("depth").addEventListener("mousemove", readout);
$("confidence").addEventListener("mousemove", readout);
$("file").addEventListener("change", (e) => { upload(e.target.files[0]); e.target.value = ""; });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  upload(e.dataTransfer.files[0]);
});
