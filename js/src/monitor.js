// The run monitor: device badge, progress bar and status, and the heartbeat.
// While a run is active it sends a small message a few times per second; the
// kernel answers on its main thread by draining the run's events into the
// panels. This is how the dashboard updates in Colab too, where widget
// messages sent from a background thread are never shown.

function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const clock = (seconds) => {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  const hours = Math.floor(m / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}:${pad(m % 60)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
};

function render({ model, el }) {
  const root = h("div", "convlab-monitor");
  const badge = h("div", "convlab-badge");
  const badgeNote = h("div", "convlab-badge-note"); // why this backend or device, when not the expected one
  const line = h("div", "convlab-progress-line");
  const status = h("span", "convlab-status");
  const text = h("span", "convlab-progress-text");
  const track = h("div", "convlab-progress-track");
  const bar = h("div", "convlab-progress-bar");
  const epochBar = h("div", "convlab-progress-epoch");
  const message = h("div", "convlab-status-message");
  // Where the kernel handles widget messages only between cells (ipykernel 6: Colab, classic
  // Notebook), the heartbeat waits while another cell runs: say so instead of freezing silently.
  const stale = h("div", "convlab-stale",
    "The panels are waiting: this notebook answers widgets only between cells, so they catch up when the running cell ends.");
  stale.style.display = "none";
  track.append(epochBar, bar);
  line.append(status, text);
  root.append(badge, badgeNote, track, line, message, stale);
  el.append(root);

  const STALE_MS = 3000;
  let timer = null;
  let beats = 0;
  let lastState = Date.now();
  const beat = () => {
    model.send({ beat: ++beats });
    stale.style.display = Date.now() - lastState > STALE_MS ? "block" : "none";
  };
  const syncHeartbeat = () => {
    const active = model.get("active");
    if (active && timer === null) {
      beat();
      timer = setInterval(beat, Math.max(50, model.get("interval_ms")));
    } else if (!active && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };

  const draw = () => {
    lastState = Date.now();
    stale.style.display = "none";
    const s = model.get("state") || {};
    badge.textContent = s.badge || "";
    badge.title = s.badge_detail || "";
    badge.style.display = s.badge ? "" : "none"; // no empty pill before the first run
    badgeNote.textContent = s.badge_note || "";
    badgeNote.style.display = s.badge_note ? "" : "none";
    const fraction = Math.max(0, Math.min(1, s.fraction || 0));
    bar.style.width = `${fraction * 100}%`;
    epochBar.style.width = `${Math.max(0, Math.min(1, s.epoch_fraction || 0)) * 100}%`;
    status.textContent = s.status || "idle";
    root.dataset.status = s.status || "idle";
    const parts = [];
    // A run that has ended counts the epochs it finished, as its message does ("stopped after 38 of 40
    // epochs"): the epoch and step it was in when stopped would read as a contradiction beside it.
    if (s.epochs) parts.push(s.ended ? `${s.epoch || 0} of ${s.epochs} epochs done` : `epoch ${s.epoch || 0}/${s.epochs}`);
    if (s.steps) parts.push(`step ${s.step || 0}/${s.steps}`);
    if (s.samples_per_sec) parts.push(`${Math.round(s.samples_per_sec).toLocaleString("en-US")} samples/s`);
    if (s.elapsed !== undefined && s.elapsed !== null) parts.push(`${clock(s.elapsed)} elapsed`);
    if (s.eta !== undefined && s.eta !== null && s.status === "running") parts.push(`ETA ${clock(s.eta)}`);
    text.textContent = parts.join(" · ");
    message.textContent = s.message || "";
    message.style.display = s.message ? "block" : "none";
  };

  // Escape pressed anywhere in this monitor's dashboard (a chart's "shrink" button has the focus after
  // "enlarge") asks the kernel to put an enlarged chart back; the kernel owns the layout. Listened for
  // on the window before JupyterLab's own shortcuts can stop the event.
  const onKey = (event) => {
    if (event.key !== "Escape" || !(event.target instanceof Element)) return;
    const board = event.target.closest(".convlab-dashboard");
    if (board && board.contains(el)) model.send({ escape: 1 });
  };
  window.addEventListener("keydown", onKey, true);

  draw();
  // One message at once tells the kernel whether this front end sends widget messages to a comm
  // subshell, before any cell blocks (see convlab_widgets/threads.py).
  model.send({ hello: 1 });
  syncHeartbeat();
  model.on("change:state", draw);
  model.on("change:active", syncHeartbeat);
  return () => {
    window.removeEventListener("keydown", onKey, true);
    if (timer !== null) clearInterval(timer);
    model.off("change:state", draw);
    model.off("change:active", syncHeartbeat);
  };
}

export default { render };
