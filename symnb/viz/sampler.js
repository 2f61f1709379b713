// The browser side of symnb.viz.SamplerWidget: controls bound to the model's traits, one
// panel of canvases per sampler, and the render loop. Each frame arrives as binary traits
// (uint8 pixels, panel-major); once it is drawn the view asks Python for the next one.

const CLASS_COLORS = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
const NO_CLASS = [60, 60, 60];

function element(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function bytesOf(value) {
  // binary traits arrive as DataView (or ArrayBuffer); an empty one as null/""
  if (!value) return new Uint8Array(0);
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer ?? value);
}

// grey images (n, side*side) starting at `offset` laid out in a grid of `cols` columns
function drawImages(canvas, pixels, offset, n, side, cols) {
  const rows = Math.ceil(n / cols);
  if (canvas.width !== cols * side || canvas.height !== rows * side) {
    canvas.width = cols * side;
    canvas.height = rows * side;
  }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  const d = img.data;
  for (let k = 0; k < n; k++) {
    const x0 = (k % cols) * side, y0 = Math.floor(k / cols) * side;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const g = pixels[offset + k * side * side + y * side + x];
        const o = 4 * ((y0 + y) * canvas.width + x0 + x);
        d[o] = d[o + 1] = d[o + 2] = g;
        d[o + 3] = 255;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

// one row per chain, one column per frame, colored by class
function drawRibbon(canvas, classes, offset, chains, width) {
  if (canvas.width !== width || canvas.height !== chains) {
    canvas.width = width;
    canvas.height = chains;
  }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, chains);
  for (let i = 0; i < chains * width; i++) {
    const c = classes[offset + i];
    const rgb = c < CLASS_COLORS.length ? CLASS_COLORS[c] : NO_CLASS;
    img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

function slider(parent, model, name, label, min, max, step) {
  const box = element("label", "symnb-control", parent);
  element("span", "", box, label);
  const input = element("input", "", box);
  Object.assign(input, { type: "range", min, max, step });
  input.dataset.trait = name;
  const out = element("span", "symnb-value", box);
  const show = () => {
    input.value = model.get(name);
    out.textContent = model.get(name);
  };
  input.addEventListener("input", () => { out.textContent = input.value; });
  input.addEventListener("change", () => {
    model.set(name, Number(input.value));
    model.save_changes();
  });
  model.on(`change:${name}`, show);
  show();
}

function render({ model, el }) {
  const root = element("div", "symnb-sampler", el);
  const bar = element("div", "symnb-controls", root);
  const button = (text, onclick) => {
    const b = element("button", `symnb-${text}`, bar, text);
    b.addEventListener("click", onclick);
    return b;
  };
  const setPlaying = (on) => { model.set("playing", on); model.save_changes(); };
  button("play", () => setPlaying(true));
  button("pause", () => setPlaying(false));
  button("step", () => model.send({ type: "step" }));
  button("reset", () => model.send({ type: "reset" }));
  slider(bar, model, "steps_per_frame", "steps/frame", 1, 100, 1);
  slider(bar, model, "eps_f", "eps_f", 0, 0.1, 0.001);
  slider(bar, model, "eta", "eta", 0, 0.999, 0.001);
  slider(bar, model, "n_chains", "chains", 1, 64, 1);
  const initBox = element("label", "symnb-control", bar);
  element("span", "", initBox, "start");
  const init = element("select", "", initBox);
  for (const v of ["noise", "data", "mode"]) element("option", "", init, v).value = v;
  init.value = model.get("init");
  init.addEventListener("change", () => { model.set("init", init.value); model.save_changes(); });
  model.on("change:init", () => { init.value = model.get("init"); });

  const panelsBox = element("div", "symnb-panels", root);
  const key = element("div", "symnb-key", root);
  element("span", "", key, "classes: ");
  CLASS_COLORS.forEach((rgb, c) => {
    const chip = element("span", "symnb-chip", key, String(c));
    chip.style.background = `rgb(${rgb.join(",")})`;
  });
  const isl = element("img", "symnb-isl", root);
  const status = element("div", "symnb-status", root);
  element("span", "", status, "frames drawn ");
  const counter = element("span", "symnb-frame-count", status, "0");
  const rates = element("span", "symnb-rates", status);

  let panels = [], builtFor = "", drawn = 0, islUrl = null;
  const times = [];

  function buildPanels(layout) {
    panelsBox.replaceChildren();
    panels = [];
    for (let p = 0; p < layout.panels; p++) {
      const box = element("div", "symnb-panel", panelsBox);
      const title = element("div", "symnb-title", box);
      const grid = element("canvas", "symnb-grid", box);
      element("div", "symnb-caption", box, "chain 0, recent frames");
      const film = element("canvas", "symnb-film", box);
      element("div", "symnb-caption", box, "class of each chain, recent frames");
      const ribbon = element("canvas", "symnb-ribbon", box);
      const counters = element("div", "symnb-counters", box);
      panels.push({ title, grid, film, ribbon, counters });
    }
  }

  function draw() {
    const layout = model.get("shape");
    if (!layout || !layout.panels) return;
    const key = `${layout.panels}x${layout.chains}`;
    if (key !== builtFor) { buildPanels(layout); builtFor = key; }
    const side = layout.side, px = side * side;
    const images = bytesOf(model.get("images")), film = bytesOf(model.get("film"));
    const ribbon = bytesOf(model.get("ribbon"));
    const stats = model.get("stats") || [];
    const cols = Math.ceil(Math.sqrt(layout.chains));
    panels.forEach((p, i) => {
      if (images.length >= (i + 1) * layout.chains * px)
        drawImages(p.grid, images, i * layout.chains * px, layout.chains, side, cols);
      if (film.length >= (i + 1) * layout.film * px)
        drawImages(p.film, film, i * layout.film * px, layout.film, side, layout.film);
      if (ribbon.length >= (i + 1) * layout.chains * layout.ribbon)
        drawRibbon(p.ribbon, ribbon, i * layout.chains * layout.ribbon, layout.chains, layout.ribbon);
      const s = stats[i];
      if (s) {
        p.title.textContent = `${s.name} — step ${s.steps} / ${layout.budget}`;
        p.counters.textContent = `class changes per 1000 steps: ${s.changes_per_1000} · ` +
          `classes visited per chain: ${s.visited_per_chain} (all chains: ${s.visited_total}) · ` +
          `ISL: ${s.isl === null ? "—" : s.isl}`;
      }
    });
    drawn += 1;
    counter.textContent = String(drawn);
    const now = performance.now();
    times.push(now);
    while (times.length && now - times[0] > 2000) times.shift();
    const fps = times.length > 1 ? (1000 * (times.length - 1)) / (now - times[0]) : 0;
    rates.textContent = ` · ${fps.toFixed(1)} frames/s · Python ${model.get("frame_ms").toFixed(1)} ms/frame`;
  }

  function showPlot() {
    const bytes = bytesOf(model.get("isl_png"));
    if (!bytes.length) return;
    if (islUrl) URL.revokeObjectURL(islUrl);
    islUrl = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
    isl.src = islUrl;
  }

  // the loop: when a frame is drawn, ask for one more. Python runs up to two frames ahead
  // (it computes one while the browser receives and draws the other), so starting asks
  // twice. A watchdog asks again if an answer was lost.
  let asked = 0, drawnFrame = model.get("frame");
  function ask() {
    if (!model.get("playing")) return;
    asked = performance.now();
    model.send({ type: "tick", frame: drawnFrame });
  }
  const watchdog = setInterval(() => {
    if (model.get("playing") && performance.now() - asked > 1000) ask();
  }, 500);

  model.on("change:frame", () => {
    draw();
    drawnFrame = model.get("frame");
    ask();
  });
  model.on("change:isl_png", showPlot);
  model.on("change:playing", () => {
    root.classList.toggle("symnb-is-playing", model.get("playing"));
    ask();
    ask();
  });
  draw();
  showPlot();
  ask();
  ask();
  return () => {
    clearInterval(watchdog);
    if (islUrl) URL.revokeObjectURL(islUrl);
  };
}

export default { render };
