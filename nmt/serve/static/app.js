// The nmt-serve page: translate as you type, show the n-best list, the attention of the chosen
// hypothesis as an SVG heatmap, and the pieces coloured by one unit of a chosen layer.
"use strict";

const state = { analysis: null, chosen: 0, timer: null };

async function loadModels() {
  const response = await fetch("/v1/models");
  const data = await response.json();
  for (const model of data.models) {
    const option = document.createElement("option");
    option.value = model.name;
    option.textContent = `${model.name} (${model.variant}, ${model.src_lang}→${model.tgt_lang})`;
    $("model").appendChild(option);
  }
  $("model").value = data.default;
  const first = data.models.find((m) => m.name === data.default);
  if (first) $("beam").value = first.beam_size;
}

async function analyze() {
  const text = $("source").value.trim();
  if (!text) { newestRequest++; state.analysis = null; render(); return; }
  const body = { text, model: $("model").value, beam: Number($("beam").value), nbest: 5 };
  if ($("prefix").value.trim()) body.prefix = $("prefix").value.trim();  // the model continues what was typed
  await ask("/v1/analyze", body, "translating…", (data) => { state.analysis = data; state.chosen = 0; render(); });
}

function render() {
  const data = state.analysis;
  const hypotheses = data ? data.hypotheses : [];
  const best = hypotheses[state.chosen];
  $("translation").textContent = best ? best.text : "";
  listNbest(hypotheses, state.chosen, (index) => { state.chosen = index; render(); });
  renderHeatmap(data, best);
  renderLayers(data, best);
}

function svg(tag, attributes, text) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function renderHeatmap(data, hyp) {
  const box = $("heatmap");
  if (!hyp || !hyp.attention) {
    box.innerHTML = '<p class="hint">Attention appears here for attention models (rnnsearch, luong).</p>';
    return;
  }
  const cell = 22, left = 110, top = 90;
  const source = data.source, target = hyp.pieces;
  const image = svg("svg", { width: left + cell * source.length + 10, height: top + cell * target.length + 10, id: "attention" });
  source.forEach((piece, j) => {
    const x = left + j * cell + cell / 2;
    image.append(svg("text", { x, y: top - 6, transform: `rotate(-60 ${x} ${top - 6})` }, piece));
  });
  target.forEach((piece, i) => {
    image.append(svg("text", { x: left - 6, y: top + i * cell + cell * 0.7, "text-anchor": "end" }, piece));
    hyp.attention[i].forEach((weight, j) => {
      const shade = Math.round(255 * (1 - weight));
      const rect = svg("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
                                 fill: `rgb(${shade},${shade},${shade})`, class: "weight" });
      rect.append(svg("title", {}, `${piece} ← ${source[j]}: ${weight.toFixed(3)}`));
      image.append(rect);
    });
  });
  box.replaceChildren(image);
}

function layersOf(data, hyp) {
  if (!data) return [];
  const encoder = data.encoder.map((layer) => ({ ...layer, pieces: data.source }));
  const decoder = hyp ? hyp.decoder.map((layer) => ({ ...layer, name: layer.name, pieces: hyp.pieces })) : [];
  return [...encoder, ...decoder];
}

function values(layer) {
  const wanted = $("state").value;
  if (wanted === "cell" && layer.cell) return layer.cell.map((row) => row.map(Math.tanh));
  return layer.hidden;
}

function colour(value) {
  const v = Math.max(-1, Math.min(1, value));
  const fade = Math.round(255 * (1 - Math.abs(v)));
  return v >= 0 ? `rgb(255,${fade},${fade})` : `rgb(${fade},${fade},255)`;
}

function renderLayers(data, hyp) {
  const layers = layersOf(data, hyp);
  $("cells-panel").style.display = layers.length ? "" : "none";  // an export's graphs give no activations
  const select = $("layer");
  const previous = select.value;
  select.replaceChildren(...layers.map((layer, index) => {
    const option = document.createElement("option");
    option.value = String(index);
    option.textContent = layer.name;
    return option;
  }));
  if (previous && Number(previous) < layers.length) select.value = previous;
  renderTokens();
}

function renderTokens() {
  const layers = layersOf(state.analysis, state.analysis && state.analysis.hypotheses[state.chosen]);
  const layer = layers[Number($("layer").value) || 0];
  const box = $("tokens");
  if (!layer) { box.replaceChildren(); $("top-units").replaceChildren(); return; }
  const rows = values(layer);
  const units = rows[0].length;
  for (const input of [$("unit"), $("unit-slider")]) input.max = String(units - 1);
  const unit = Math.min(Number($("unit").value) || 0, units - 1);
  const group = document.createElement("div");
  group.className = "group";
  const label = document.createElement("b");
  label.textContent = `unit ${unit}`;
  group.append(label);
  layer.pieces.forEach((piece, t) => {
    const span = document.createElement("span");
    span.className = "piece";
    span.textContent = piece;
    span.style.background = colour(rows[t][unit]);
    span.style.color = Math.abs(rows[t][unit]) > 0.6 ? "#fff" : "#222";
    span.title = rows[t][unit].toFixed(3);
    span.addEventListener("click", () => showTopUnits(layer, rows, t));
    group.append(span);
  });
  box.replaceChildren(group);
}

function showTopUnits(layer, rows, t) {
  const ranked = rows[t].map((value, unit) => [unit, value]).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 10);
  const table = document.createElement("table");
  const caption = document.createElement("p");
  caption.className = "caption";
  caption.textContent = `units that respond most to “${layer.pieces[t]}” (${layer.name})`;
  for (const [unit, value] of ranked) {
    const row = table.insertRow();
    row.insertCell().textContent = `unit ${unit}`;
    const cell = row.insertCell();
    cell.textContent = value.toFixed(3);
    cell.style.background = colour(value);
    row.addEventListener("click", () => { setUnit(unit); });
  }
  $("top-units").replaceChildren(caption, table);
}

function setUnit(unit) {
  $("unit").value = unit;
  $("unit-slider").value = unit;
  renderTokens();
}

$("source").addEventListener("input", () => { clearTimeout(state.timer); state.timer = setTimeout(analyze, 400); });
$("source").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); clearTimeout(state.timer); analyze(); }
});
$("prefix").addEventListener("input", () => { clearTimeout(state.timer); state.timer = setTimeout(analyze, 300); });
$("prefix").addEventListener("keydown", (event) => {  // Tab takes the model's next word into the prefix
  const best = state.analysis && state.analysis.hypotheses[state.chosen];
  if (event.key !== "Tab" || !best) return;
  const typed = $("prefix").value.trim();
  const rest = best.text.slice(typed.length);  // a word the prefix ends inside is finished, else the next one added
  if (!best.text.startsWith(typed) || !rest.trim()) return;
  event.preventDefault();
  const word = rest.match(/^\s*\S+/)[0];
  $("prefix").value = typed ? typed + word : word.trimStart();
  clearTimeout(state.timer);
  analyze();
});
$("model").addEventListener("change", analyze);
$("beam").addEventListener("change", analyze);
$("layer").addEventListener("change", renderTokens);
$("state").addEventListener("change", renderTokens);
$("unit").addEventListener("input", () => setUnit(Number($("unit").value)));
$("unit-slider").addEventListener("input", () => setUnit(Number($("unit-slider").value)));
loadModels().then(() => { if ($("source").value.trim()) analyze(); });
