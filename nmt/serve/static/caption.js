// The captioning page: an image (chosen, dropped or one of the model's test images) is sent to
// /v1/caption; the n-best captions are listed, and each piece of the chosen one is drawn as the
// image under its attention (an h x w grid stretched over the image, bright where it looks).
"use strict";

const state = { result: null, chosen: 0, image: null };

async function loadModels() {
  const data = await (await fetch("/v1/models")).json();
  for (const model of data.captioning) {
    const option = document.createElement("option");
    option.value = model.name;
    option.textContent = `${model.name} (${model.variant}, ${model.lang})`;
    option.dataset.examples = model.examples;
    option.dataset.beam = model.beam_size;
    $("model").appendChild(option);
  }
  showExamples();
}

function showExamples() {
  const option = $("model").selectedOptions[0];
  if (!option) return;
  $("beam").value = option.dataset.beam;
  const count = Number(option.dataset.examples);
  $("examples").replaceChildren(...Array.from({ length: count }, (_, index) => {
    const img = document.createElement("img");
    img.src = `/v1/example?model=${encodeURIComponent(option.value)}&index=${index}`;
    img.alt = `test image ${index}`;
    img.addEventListener("click", async () => pick(await (await fetch(img.src)).blob()));
    return img;
  }));
}

function pick(blob) {
  const reader = new FileReader();
  reader.onload = () => { state.image = reader.result; $("picked").src = reader.result; caption(); };
  reader.readAsDataURL(blob);
}

async function caption() {
  if (!state.image) return;
  const body = { image: state.image.split(",", 2)[1], model: $("model").value, beam: Number($("beam").value), nbest: 5 };
  await ask("/v1/caption", body, "captioning…", (data) => { state.result = data; state.chosen = 0; render(); });
}

function render() {
  const captions = state.result ? state.result.captions : [];
  const best = captions[state.chosen];
  $("caption").textContent = best ? best.text : "";
  listNbest(captions, state.chosen, (index) => { state.chosen = index; render(); });
  drawAttention(best);
}

function drawAttention(hyp) {
  const looks = $("looks");
  if (!hyp || !hyp.attention) {
    looks.replaceChildren();
    if (hyp) looks.innerHTML = '<p class="hint">This model reads one summary of the image at every step: it has no attention to show.</p>';
    return;
  }
  const picture = $("picked");
  const [h, w] = state.result.grid;
  // the picture's own shape, 128 pixels high (a formula 5 times as wide as high: 320 x 64)
  const aspect = picture.naturalWidth / picture.naturalHeight || 1;
  const width = Math.round(Math.min(320, 128 * aspect)), height = Math.round(width / aspect);
  looks.replaceChildren(...hyp.pieces.map((piece, step) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.className = "look";
    const context = canvas.getContext("2d");
    context.drawImage(picture, 0, 0, width, height);
    // the grid's weights as a small grey image, smoothed when stretched: dark where it does not look
    const weights = hyp.attention[step];
    const peak = Math.max(...weights.flat(), 1e-9);
    const grid = document.createElement("canvas");
    grid.width = w; grid.height = h;
    const cells = grid.getContext("2d").createImageData(w, h);
    weights.flat().forEach((weight, index) => {
      cells.data.set([0, 0, 0, Math.round(200 * (1 - weight / peak))], 4 * index);
    });
    grid.getContext("2d").putImageData(cells, 0, 0);
    context.imageSmoothingEnabled = true;
    context.drawImage(grid, 0, 0, width, height);
    const label = document.createElement("figcaption");
    label.textContent = piece;
    figure.append(canvas, label);
    return figure;
  }));
}

const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) pick(event.dataTransfer.files[0]);
});
$("file").addEventListener("change", () => { if ($("file").files.length) pick($("file").files[0]); });
$("model").addEventListener("change", () => { showExamples(); caption(); });
$("beam").addEventListener("change", caption);
loadModels();
