// The search page (index.html): a file, not an inline script, so the page runs under `default-src 'self'`.
(function () {
  "use strict";
  var PAGE = 10, offset = 0, lastParams = null;
  var places = { country: [], region: [] }, spell = true;  // filters chosen from the facets; the form holds the others
  var calls = "";  // "open" or "closed": the grant-calls facet chosen
  var sortChosen = false;  // until the reader picks an order, the server picks it ("latest news on …" is by date)
  var FACETS = [["categories", "Categories"], ["regions", "Regions"], ["countries", "Countries"], ["years", "Years"],
                ["calls", "Grant calls"]];
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;  // text only: article fields are never parsed as HTML
    return node;
  }
  function span(w) {  // "since 2026-11-23 (“this week”)"
    var days = w.date_from === w.date_to ? "on " + w.date_from
      : w.date_to ? "from " + w.date_from + " to " + w.date_to : "since " + w.date_from;
    return days + " (\u201c" + w.words + "\u201d)";
  }
  function safeUrl(u) { return /^https?:\/\//i.test(u || "") ? u : null; }
  function day(iso) { return iso ? iso.slice(0, 10) : "undated"; }
  function deadline(item) {  // "deadline 2026-12-15 (16 days left)" / "closed 2026-05-15", "" without one
    if (!item.deadline) return "";
    if (item.deadline_passed) return "closed " + item.deadline;
    var left = Math.round((Date.parse(item.deadline) - Date.parse(new Date().toISOString().slice(0, 10))) / 864e5);
    return "deadline " + item.deadline + " (" + (left <= 0 ? "today" : left === 1 ? "1 day left" : left + " days left") + ")";
  }
  function getJSON(url, opts) {
    return fetch(url, opts).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
        return body;
      });
    });
  }
  function titleNode(item) {
    var url = safeUrl(item.url);
    return url ? el("a", { href: url }, item.title) : el("span", {}, item.title);
  }
  function showRelated(id, box, button) {
    button.disabled = true;
    getJSON("/articles/" + encodeURIComponent(id) + "/related?k=5").then(function (res) {
      var list = el("ul", { "class": "related" });
      if (!res.items.length) list.appendChild(el("li", {}, "No related articles."));
      res.items.forEach(function (item) {
        var li = el("li");
        li.appendChild(titleNode(item));
        li.appendChild(el("span", { "class": "meta" }, " · " + [day(item.published_at), deadline(item)]
          .filter(Boolean).join(" · ")));
        list.appendChild(li);
      });
      box.appendChild(list);
      button.remove();
    }).catch(function (e) { box.appendChild(el("p", { "class": "error" }, e.message)); });
  }
  function render(res, append) {
    var results = $("results");
    if (!append) results.textContent = "";
    res.hits.forEach(function (hit) {
      var div = el("div", { "class": "hit" });
      var h2 = el("h2"); h2.appendChild(titleNode(hit)); div.appendChild(h2);
      var meta = [day(hit.published_at)].concat(hit.categories, hit.countries, [deadline(hit)]).filter(Boolean).join(" · ");
      div.appendChild(el("div", { "class": "meta" }, res.ranked ? meta + " · score " + hit.score.toFixed(3) : meta));
      div.appendChild(el("p", { "class": "snippet" }, hit.snippet));
      var btn = el("button", { "class": "link", type: "button" }, "Related posts");
      btn.addEventListener("click", function () { showRelated(hit.id, div, btn); });
      div.appendChild(btn);
      results.appendChild(div);
    });
    var shown = res.offset + res.hits.length, total = res.relevant === null ? res.eligible : res.relevant;
    var state = calls === "closed" ? "closed" : "open";  // "open calls …" reads as open unless the reader chose closed
    var noneOpen = !shown && !append && res.calls && state === "open" && res.eligible === 0;  // between rounds
    var filtered = ["category", "date_from", "date_to", "country", "region"].some(function (n) {
      return lastParams && lastParams.has(n);
    });
    $("status").textContent = (res.weak_only ? "No article matches this well."
      : noneOpen ? (filtered ? "No open call matches these filters right now." : "No open calls right now.")
      : !shown ? "No articles match."
      : res.relevant === null ? "Showing " + shown + " of " + res.eligible + " articles, best first"
      : !res.ranked ? "Showing " + shown + " of the " + res.relevant
        + (res.sort !== "deadline" ? " newest articles"
          : state === "closed" ? " calls that have closed, newest first" : " open calls, soonest deadline first")
      : "Showing " + shown + " of the " + res.relevant + " most relevant articles, "
        + (res.sort === "deadline" ? "soonest deadline first" : "newest first")
        + (res.recency && res.sort === "date" ? " (\u201c" + res.recency + "\u201d)" : "")
      ) + (res.calls && res.ranked && !noneOpen ? " \u00b7 " + state + " calls only (\u201c" + res.calls + "\u201d)" : "")
        + (res.time_window ? " \u00b7 published " + span(res.time_window) : "");
    if (noneOpen) {  // offer the calls that have closed: when the next round opens, they say what to expect
      var closedOnes = el("button", { "class": "link", type: "button", id: "closed-calls" }, "Show the calls that have closed");
      closedOnes.addEventListener("click", function () { calls = "closed"; search(); });
      results.appendChild(closedOnes);
    }
    $("more").hidden = shown >= total || res.hits.length < res.k;
    if (res.weak_only && !append) {  // nothing close in meaning, no article with every word: offer the nearest anyway
      var nearest = el("button", { "class": "link", type: "button", id: "nearest" }, "Show the nearest articles anyway");
      nearest.addEventListener("click", function () { lastParams.set("floor", "0"); offset = 0; run(false); });
      results.appendChild(nearest);
    }
    if (!shown && !append && /["\u201c\u201d\u201e]/.test(res.query)) {  // no article holds the phrase as typed
      var loose = res.query.replace(/["\u201c\u201d\u201e]/g, " ").replace(/\s+/g, " ").trim();
      var again = el("button", { "class": "link", type: "button", id: "unquote" }, "Search without the quotes: " + loose);
      again.addEventListener("click", function () { $("q").value = loose; search(true); });
      results.appendChild(again);
    }
  }
  function refine(facet, value) {  // narrow the search to one facet value and run it again
    if (facet === "years") { $("date_from").value = value + "-01-01"; $("date_to").value = value + "-12-31"; }
    else if (facet === "calls") calls = value;
    else if (facet === "categories") {
      if (![].some.call($("category").options, function (o) { return o.value === value; })) {
        $("category").appendChild(el("option", { value: value }, value));
      }
      $("category").value = value;
    } else {
      var list = places[facet === "countries" ? "country" : "region"];
      if (list.indexOf(value) < 0) list.push(value);
    }
    search();
  }
  function renderFacets(facets) {
    var box = $("facets");
    box.textContent = "";
    if (!facets || !facets.counted) return;
    box.appendChild(el("div", { "class": "name" }, "Refine — in the best " + facets.counted + " results:"));
    FACETS.forEach(function (f) {
      var values = facets[f[0]].slice(0, 8);
      if (!values.length) return;
      var line = el("div");
      line.appendChild(el("span", { "class": "name" }, f[1] + ":"));
      values.forEach(function (v) {
        var b = el("button", { type: "button", "data-facet": f[0] }, v.value + " " + v.count);
        b.addEventListener("click", function () { refine(f[0], v.value); });
        line.appendChild(b);
      });
      box.appendChild(line);
    });
  }
  function renderActive() {  // the facet filters in force, each removable
    var box = $("active");
    box.textContent = "";
    if (calls) {
      var c = el("button", { type: "button", title: "Remove this filter" }, calls + " calls \u00d7");
      c.addEventListener("click", function () { calls = ""; search(); });
      box.appendChild(c);
    }
    ["country", "region"].forEach(function (name) {
      places[name].forEach(function (value, i) {
        var b = el("button", { type: "button", title: "Remove this filter" }, value + " \u00d7");
        b.addEventListener("click", function () { places[name].splice(i, 1); search(); });
        box.appendChild(b);
      });
    });
  }
  function run(append) {
    var params = lastParams;
    params.set("offset", String(offset));
    if (offset === 0) params.set("facets", "true"); else params.delete("facets");
    $("status").textContent = "Searching…";
    getJSON("/search?" + params.toString()).then(function (res) {
      render(res, append);
      $("sort").value = res.sort;  // "latest …" asked for the newest: the menu says so, and can undo it
      if (!append) { renderFacets(res.facets); renderCorrection(res); }
    }).catch(function (e) { $("status").textContent = ""; $("results").textContent = ""; $("facets").textContent = "";
                            $("results").appendChild(el("p", { "class": "error" }, e.message)); });
  }
  function renderCorrection(res) {  // "Showing results for …" with a way back to the words as typed
    var box = $("corrected");
    box.textContent = "";
    box.hidden = !res.corrected_query;
    if (!res.corrected_query) return;
    box.appendChild(document.createTextNode("Showing results for "));
    box.appendChild(el("strong", {}, res.corrected_query));
    box.appendChild(document.createTextNode(". "));
    var asTyped = el("button", { "class": "link", type: "button" }, "Search instead for " + res.query);
    asTyped.addEventListener("click", function () { search(false); });
    box.appendChild(asTyped);
  }
  function search(spellcheck) {  // a new query corrects spelling; refining keeps the reader's last choice
    if (spellcheck !== undefined) spell = spellcheck;
    var p = new URLSearchParams({ q: $("q").value, k: String(PAGE) });
    if (!spell) p.set("spellcheck", "false");
    ["category", "date_from", "date_to"].forEach(function (name) { if ($(name).value) p.set(name, $(name).value); });
    if (sortChosen) p.set("sort", $("sort").value);
    if (calls) p.set("calls", calls);
    places.country.forEach(function (c) { p.append("country", c); });
    places.region.forEach(function (r) { p.append("region", r); });
    renderActive();
    lastParams = p; offset = 0; run(false);
  }
  $("f").addEventListener("submit", function (ev) { ev.preventDefault(); search(true); });
  $("sort").addEventListener("change", function () { sortChosen = true; if (lastParams) search(); });
  var typing = null, asked = "";
  $("q").addEventListener("input", function () {  // completions of the word being typed, after a pause
    clearTimeout(typing);
    typing = setTimeout(function () {
      var typed = $("q").value;
      if (typed === asked) return;
      asked = typed;
      getJSON("/suggest?" + new URLSearchParams({ q: typed, k: "8" }).toString()).then(function (res) {
        if (typed !== $("q").value) return;  // the reader typed on meanwhile
        var list = $("suggestions");
        list.textContent = "";
        res.suggestions.forEach(function (s) { list.appendChild(el("option", { value: s })); });
      }).catch(function () {});
    }, 150);
  });
  $("more").addEventListener("click", function () { offset += PAGE; run(true); });
  getJSON("/stats").then(function (s) {
    Object.keys(s.categories).forEach(function (c) { $("category").appendChild(el("option", { value: c }, c)); });
  }).catch(function () {});
})();
