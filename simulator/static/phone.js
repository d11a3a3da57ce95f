// The phone page: places a stand-in call (POST /phone/calls), sends each turn
// (POST /phone/calls/{sid}/turn), shows and speaks what the caller hears, and shows the
// call's context and events. The API key comes once in the address (?key=) and goes as
// X-API-Key on every request.
"use strict";

const key = new URLSearchParams(location.search).get("key");
const headers = { "Content-Type": "application/json" };
if (key) headers["X-API-Key"] = key;
const $ = (id) => document.getElementById(id);
let call = null; // the last answer about the call in progress

async function api(method, url, body) {
  const response = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `${url}: HTTP ${response.status}`);
  return data;
}

function line(text, kind) {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = text;
  $("transcript").append(item);
}

function speak(text) {
  // Headless browsers may have no voices: speaking is a nicety, never a failure.
  if (!$("speak").checked || !("speechSynthesis" in window)) return;
  try {
    window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
  } catch (err) {
    console.warn("speech synthesis failed", err);
  }
}

function enable(live) {
  for (const id of ["hangup", "send-keys", "send-say", "silence"]) $(id).disabled = !live;
  for (const button of $("pad").querySelectorAll("button")) button.disabled = !live;
  $("call").disabled = live;
}

async function show(answer) {
  call = answer;
  for (const text of answer.heard) {
    line(text, "prompt");
    speak(text);
  }
  $("links").hidden = false;
  // Opened directly, the links need loopback or a key header; the page shows both below.
  $("context-link").href = answer.context_url;
  $("events-link").href = answer.events_url;
  if (answer.ended) {
    line(answer.ending, "end");
    $("status").textContent = `Call ${answer.sid} ended: ${answer.end || "error"}`;
    enable(false);
  } else {
    const p = answer.prompt;
    const wants = p.input.includes("speech") ? "keys or words" : "keys";
    $("status").textContent = `Waiting for ${wants}` + (p.num_digits ? ` (${p.num_digits} key(s))` : "");
  }
  await details(answer);
}

async function details(answer) {
  try {
    $("context").textContent = JSON.stringify(await api("GET", answer.context_url), null, 2);
    $("events").textContent = JSON.stringify(await api("GET", answer.events_url), null, 2);
  } catch (err) {
    $("context").textContent = String(err.message);
  }
}

async function turn(kind, text = "") {
  if (!call || call.ended) return;
  enable(false);
  $("hangup").disabled = true;
  line(kind === "silence" ? "(silence)" : kind === "hangup" ? "(you hang up)" : text, "caller");
  try {
    await show(await api("POST", `/phone/calls/${call.sid}/turn`, { kind, text }));
  } catch (err) {
    $("status").textContent = err.message;
  }
  if (call && !call.ended) enable(true);
}

function sendKeys() {
  const keys = $("keys").textContent;
  $("keys").textContent = "";
  turn("digits", keys);
}

function press(digit) {
  $("keys").textContent += digit;
  const p = call && call.prompt;
  // Twilio sends the keys at numDigits or the finish key: so does the pad.
  if (p && ((p.num_digits && $("keys").textContent.length >= p.num_digits) || digit === p.finish_on_key)) {
    sendKeys();
  }
}

async function start() {
  $("transcript").replaceChildren();
  $("keys").textContent = "";
  $("call").disabled = true;
  $("status").textContent = "Calling…";
  try {
    await show(await api("POST", "/phone/calls", { flow: $("flow").value }));
    if (!call.ended) enable(true);
  } catch (err) {
    $("status").textContent = err.message;
    $("call").disabled = false;
  }
}

async function init() {
  for (const digit of "123456789*0#") {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = digit;
    button.dataset.key = digit;
    button.addEventListener("click", () => press(digit));
    $("pad").append(button);
  }
  enable(false);
  $("call").addEventListener("click", start);
  $("hangup").addEventListener("click", () => turn("hangup"));
  $("send-keys").addEventListener("click", sendKeys);
  $("silence").addEventListener("click", () => turn("silence"));
  $("say-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const words = $("say").value.trim();
    $("say").value = "";
    if (words) turn("speech", words);
  });
  try {
    for (const { flow, number } of await api("GET", "/phone/flows")) {
      const option = document.createElement("option");
      option.value = flow;
      option.textContent = `${flow} (${number})`;
      $("flow").append(option);
    }
  } catch (err) {
    $("status").textContent = err.message;
  }
}

init();
