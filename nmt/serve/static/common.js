// What both pages do: ask the server (only the newest answer is shown) and list the n-best.
"use strict";

const $ = (id) => document.getElementById(id);
let newestRequest = 0;

// POSTs `body` to `url`; calls show(data) with the answer unless a newer request was made since.
// Says in #status what is happening and what went wrong.
async function ask(url, body, doing, show) {
  const asked = ++newestRequest;
  $("status").textContent = doing;
  try {
    const response = await fetch(url, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json();
    if (asked !== newestRequest) return; // a newer request is on its way
    if (!response.ok) { $("status").textContent = data.error || response.statusText; return; }
    $("status").textContent = "";
    show(data);
  } catch (error) {
    $("status").textContent = `no answer from the server (${error})`;
  }
}

// The n-best list in #nbest: text and score, the chosen one marked; a click calls choose(index).
function listNbest(hypotheses, chosen, choose) {
  $("nbest").replaceChildren(...hypotheses.map((hyp, index) => {
    const item = document.createElement("li");
    item.className = index === chosen ? "chosen" : "";
    item.append(hyp.text || "(empty)");
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = hyp.score.toFixed(3);
    item.append(score);
    item.addEventListener("click", () => choose(index));
    return item;
  }));
}
