// Mamori console: live incidents over server-sent events, and buttons that call the JSON
// API with the session's CSRF token. No framework, nothing loaded from elsewhere.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function callApi(method, url, body) {
  const response = await fetch(url, {
    method: method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try {
      const data = await response.json();
      message = (data.error && data.error.message) || data.detail || message;
    } catch (ignored) { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

function showNotice(text, isError) {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text;
  box.className = isError ? "notice error" : "notice";
  box.hidden = false;
}

// Forms marked data-api="POST /v1/..." send their fields as JSON, then reload the page.
function wireApiForms() {
  document.querySelectorAll("form[data-api]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const [method, url] = form.dataset.api.split(" ");
      const body = {};
      const inputs = {};
      new FormData(form).forEach(function (value, key) {
        if (key.startsWith("input.")) { if (value !== "") inputs[key.slice(6)] = value; }
        else body[key] = value;
      });
      if (form.dataset.inputs !== undefined) body.inputs = inputs;
      let target = url;
      if (body.__url) { target = body.__url; delete body.__url; }
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      try {
        await callApi(method, target, body);
        window.location.reload();
      } catch (err) {
        showNotice(err.message, true);
        form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      }
    });
  });
}

// The action picker on the incident page: choosing an action lists its targets.
function wireActionPicker() {
  const picker = document.getElementById("action-picker");
  if (!picker) return;
  const targets = document.getElementById("target-picker");
  function refresh() {
    const option = picker.selectedOptions[0];
    const list = JSON.parse(option.dataset.targets || "[]");
    targets.replaceChildren();
    list.forEach(function (t) {
      const o = document.createElement("option");
      o.value = t; o.textContent = t; targets.appendChild(o);
    });
    document.querySelectorAll("[data-input-for]").forEach(function (el) {
      el.hidden = el.dataset.inputFor !== picker.value;
      el.querySelectorAll("input,select").forEach(function (i) { i.disabled = el.hidden; });
    });
  }
  picker.addEventListener("change", refresh);
  refresh();
}

function levelBadge(level) {
  const span = document.createElement("span");
  span.className = "level l" + level;
  span.textContent = String(level);
  return span;
}

// Live incidents: each "incident" event adds or updates a row of every live table.
function wireLive() {
  const badge = document.getElementById("live");
  if (!window.EventSource || !badge) return;
  const source = new EventSource("/console/live");
  source.addEventListener("hello", function () { badge.classList.add("on"); });
  source.onerror = function () { badge.classList.remove("on"); };
  source.addEventListener("incident", function (event) {
    const incident = JSON.parse(event.data);
    document.querySelectorAll("table[data-live-incidents] tbody").forEach(function (body) {
      const id = "incident-" + incident.incident_id;
      let row = document.getElementById(id);
      if (!row) {
        row = document.createElement("tr");
        row.id = id;
        body.prepend(row);
      }
      row.replaceChildren();
      const cells = [levelBadge(incident.level)];
      const link = document.createElement("a");
      link.href = "/console/incidents/" + encodeURIComponent(incident.incident_id);
      link.textContent = incident.title || incident.incident_id;
      cells.push(link);
      cells.push(String(incident.risk));
      cells.push(String(incident.alert_count));
      cells.push(incident.last_seen.replace("T", " ").slice(0, 19));
      cells.forEach(function (c) {
        const td = document.createElement("td");
        if (typeof c === "string") td.textContent = c; else td.appendChild(c);
        row.appendChild(td);
      });
      row.classList.add("fresh");
    });
    const toast = document.getElementById("toast");
    if (toast) {
      toast.textContent = (toast.dataset.label || "") + ": " + (incident.title || incident.incident_id);
      toast.classList.add("show");
      setTimeout(function () { toast.classList.remove("show"); }, 5000);
    }
  });
}

document.addEventListener("DOMContentLoaded", function () {
  wireApiForms();
  wireActionPicker();
  wireLive();
});
