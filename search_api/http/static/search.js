// The search page (index.html): a file, not an inline script, so the page runs under `default-src 'self'`.
// Its words come from the catalogue of the page's language, static/messages/<lang>.json: the server writes that
// language into <html lang> (?lang=, else SIFT_UI_LANGUAGE). Dates and numbers are formatted by Intl in it too.
(function () {
  "use strict";
  var PAGE = 10, offset = 0, lastParams = null;
  var chosen = { country: [], region: [], language: [] }, spell = true;  // facet values chosen; the form holds the rest
  var calls = "";  // "open" or "closed": the grant-calls facet chosen
  var sortChosen = false;  // until the reader picks an order, the server picks it ("latest news on …" is by date)
  var FACETS = [["categories", "facets.categories"], ["regions", "facets.regions"], ["countries", "facets.countries"],
                ["years", "facets.years"], ["calls", "facets.calls"], ["languages", "facets.languages"]];  // the facet, the key of its title
  var LANG = document.documentElement.lang || "en";
  var messages = {}, plural = new Intl.PluralRules(LANG), number = new Intl.NumberFormat(LANG);
  var score = new Intl.NumberFormat(LANG, { minimumFractionDigits: 3, maximumFractionDigits: 3 });
  // deadlines and time spans are calendar days: formatted at UTC midnight, so no time zone moves them a day
  var dates = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeZone: "UTC" });
  var languageNames = Intl.DisplayNames ? new Intl.DisplayNames([LANG], { type: "language", fallback: "code" }) : null;
  function languageName(code) {  // "fr" → "French" on an English page, "français" … on a French one
    try { return languageNames ? languageNames.of(code) : code; } catch (e) { return code; }
  }
  function facetLabel(facet, value) { return facet === "languages" ? languageName(value) : value; }
  var ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", "#x27": "'", "#39": "'" };
  var ready;  // the catalogue has loaded and the page's words are in place: searches wait for it
  var $ = function (id) { return document.getElementById(id); };
  function t(key, params) {  // a message with its {placeholders} filled in; a count {n} picks the plural form
    var text = messages[key];
    params = params || {};
    if (text == null) return key;  // the catalogue has not loaded (the console says why)
    if (typeof text === "object") text = text[plural.select(params.n)] || text.other;  // Arabic has six forms
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      var value = params[name];
      return typeof value === "number" ? number.format(value) : String(value);
    });
  }
  function translatePage() {  // data-i18n="key" sets the text, data-i18n-placeholder="key" that attribute, …
    [].forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    ["placeholder", "title", "aria-label"].forEach(function (attr) {
      [].forEach.call(document.querySelectorAll("[data-i18n-" + attr + "]"), function (node) {
        node.setAttribute(attr, t(node.getAttribute("data-i18n-" + attr)));
      });
    });
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;  // text only: article fields are never parsed as HTML
    return node;
  }
  function quoted(words) { return t("quote", { text: words }); }
  function span(w) {  // "since Nov 23, 2026 (“this week”)"
    var days = w.date_from === w.date_to ? t("window.on", { date: day(w.date_from) })
      : w.date_to ? t("window.range", { from: day(w.date_from), to: day(w.date_to) })
      : t("window.since", { from: day(w.date_from) });
    return t("with_words", { text: days, words: quoted(w.words) });
  }
  function safeUrl(u) { return /^https?:\/\//i.test(u || "") ? u : null; }
  function day(iso) { return iso ? dates.format(new Date(iso.slice(0, 10) + "T00:00:00Z")) : t("date.undated"); }
  function deadline(item) {  // "deadline Dec 15, 2026 (16 days left)" / "closed May 15, 2026", "" without one
    if (!item.deadline) return "";
    if (item.deadline_passed) return t("deadline.closed", { date: day(item.deadline) });
    var left = Math.round((Date.parse(item.deadline) - Date.parse(new Date().toISOString().slice(0, 10))) / 864e5);
    return t("deadline.open", { date: day(item.deadline),
                                left: left <= 0 ? t("deadline.today") : t("deadline.days_left", { n: left }) });
  }
  function getJSON(url, opts) {  // the body, or an Error with the server's message or one of ours
    return fetch(url, opts).catch(function () { throw new Error(t("error.network")); }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || t("error.http", { status: String(r.status) }));
        return body;
      }, function () { throw new Error(t("error.http", { status: String(r.status) })); });
    });
  }
  function titleNode(item) {
    var url = safeUrl(item.url);
    return url ? el("a", { href: url }, item.title) : el("span", {}, item.title);
  }
  // The server's snippet_html: <mark> around the query's words, everything else HTML-escaped. Built as text nodes
  // and <mark> elements, never parsed as HTML, so an article's text cannot become markup.
  function snippetNode(hit) {
    var p = el("p", { "class": "snippet", dir: "auto" });
    (hit.snippet_html || "").split(/<mark>|<\/mark>/).forEach(function (part, i) {
      var text = part.replace(/&(amp|lt|gt|quot|#x27|#39);/g, function (all, name) { return ENTITIES[name]; });
      p.appendChild(i % 2 ? el("mark", {}, text) : document.createTextNode(text));
    });
    return p;
  }
  function showRelated(id, box, button) {
    button.disabled = true;
    getJSON("/articles/" + encodeURIComponent(id) + "/related?k=5").then(function (res) {
      var list = el("ul", { "class": "related" });
      if (!res.items.length) list.appendChild(el("li", {}, t("related.none")));
      res.items.forEach(function (item) {
        var li = el("li");
        li.appendChild(titleNode(item)).dir = "auto";  // an English title in an Arabic page, or the reverse
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
      // dir=auto: the title takes the direction of its own words (an English title in an Arabic page, or the
      // reverse); on the heading, not the link, which would hide its words from the heading's choice
      var h2 = el("h2", { dir: "auto" }); h2.appendChild(titleNode(hit)); div.appendChild(h2);
      var meta = [day(hit.published_at)].concat(hit.categories, hit.countries, [deadline(hit)]);
      if (res.ranked) meta.push(t("hit.score", { score: score.format(hit.score) }));
      div.appendChild(el("div", { "class": "meta" }, meta.filter(Boolean).join(" · ")));
      div.appendChild(snippetNode(hit));
      var btn = el("button", { "class": "link", type: "button" }, t("related.show"));
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
    var parts = [statusText(res, shown, total, state, noneOpen, filtered)];
    if (res.calls && res.ranked && !noneOpen) {
      parts.push(t(state === "closed" ? "status.closed_calls_only" : "status.open_calls_only",
                   { words: quoted(res.calls) }));
    }
    if (res.time_window) parts.push(t("status.published", { span: span(res.time_window) }));
    $("status").textContent = parts.join(" \u00b7 ");
    if (noneOpen) {  // offer the calls that have closed: when the next round opens, they say what to expect
      var closedOnes = el("button", { "class": "link", type: "button", id: "closed-calls" }, t("action.closed_calls"));
      closedOnes.addEventListener("click", function () { calls = "closed"; search(); });
      results.appendChild(closedOnes);
    }
    $("more").hidden = shown >= total || res.hits.length < res.k;
    if (res.weak_only && !append) {  // nothing close in meaning, no article with every word: offer the nearest anyway
      var nearest = el("button", { "class": "link", type: "button", id: "nearest" }, t("action.nearest"));
      nearest.addEventListener("click", function () { lastParams.set("floor", "0"); offset = 0; run(false); });
      results.appendChild(nearest);
    }
    if (!shown && !append && /["\u201c\u201d\u201e]/.test(res.query)) {  // no article holds the phrase as typed
      var loose = res.query.replace(/["\u201c\u201d\u201e]/g, " ").replace(/\s+/g, " ").trim();
      var again = el("button", { "class": "link", type: "button", id: "unquote" }, t("action.unquote", { query: loose }));
      again.addEventListener("click", function () { $("q").value = loose; search(true); });
      results.appendChild(again);
    }
  }
  function statusText(res, shown, total, state, noneOpen, filtered) {  // what the list holds, in what order
    if (res.weak_only) return t("status.weak");
    if (noneOpen) return t(filtered ? "status.no_open_filtered" : "status.no_open");
    if (!shown) return t("status.none");
    var counts = { shown: shown, n: total };
    if (res.relevant === null) return t("status.best", counts);
    if (!res.ranked) {
      return t(res.sort !== "deadline" ? "status.newest" : state === "closed" ? "status.closed_calls"
               : "status.open_calls", counts);
    }
    var text = t(res.sort === "deadline" ? "status.relevant_deadline" : "status.relevant_newest", counts);
    return res.recency && res.sort === "date" ? t("with_words", { text: text, words: quoted(res.recency) }) : text;
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
      var list = chosen[{ countries: "country", regions: "region", languages: "language" }[facet]];
      if (list.indexOf(value) < 0) list.push(value);
    }
    search();
  }
  function renderFacets(facets) {
    var box = $("facets");
    box.textContent = "";
    if (!facets || !facets.counted) return;
    box.appendChild(el("div", { "class": "name" }, t("facets.refine", { n: facets.counted })));
    FACETS.forEach(function (f) {
      var values = (facets[f[0]] || []).slice(0, 8);
      // a site in one language has nothing to narrow by language
      if (!values.length || (f[0] === "languages" && values.length < 2)) return;
      var line = el("div");
      line.appendChild(el("span", { "class": "name" }, t("facets.label", { name: t(f[1]) })));
      values.forEach(function (v) {
        var b = el("button", { type: "button", "data-facet": f[0] }, facetLabel(f[0], v.value) + " " + number.format(v.count));
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
      var c = el("button", { type: "button", title: t("filter.remove") },
                 t(calls === "closed" ? "filter.closed_calls" : "filter.open_calls") + " \u00d7");
      c.addEventListener("click", function () { calls = ""; search(); });
      box.appendChild(c);
    }
    ["country", "region", "language"].forEach(function (name) {
      chosen[name].forEach(function (value, i) {
        var label = name === "language" ? languageName(value) : value;
        var b = el("button", { type: "button", title: t("filter.remove") }, label + " \u00d7");
        b.addEventListener("click", function () { chosen[name].splice(i, 1); search(); });
        box.appendChild(b);
      });
    });
  }
  function run(append) {
    var params = lastParams;
    params.set("offset", String(offset));
    if (offset === 0) params.set("facets", "true"); else params.delete("facets");
    $("status").textContent = t("status.searching");
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
    var words = t("corrected.showing", { query: "{query}" }).split("{query}");  // the corrected words go in bold
    box.appendChild(document.createTextNode(words[0]));
    box.appendChild(el("strong", { dir: "auto" }, res.corrected_query));
    box.appendChild(document.createTextNode(words.slice(1).join("") + " "));
    var asTyped = el("button", { "class": "link", type: "button" }, t("corrected.instead", { query: res.query }));
    asTyped.addEventListener("click", function () { search(false); });
    box.appendChild(asTyped);
  }
  function search(spellcheck) {  // a new query corrects spelling; refining keeps the reader's last choice
    ready.then(function () { searchNow(spellcheck); });
  }
  function searchNow(spellcheck) {
    if (spellcheck !== undefined) spell = spellcheck;
    var p = new URLSearchParams({ q: $("q").value, k: String(PAGE) });
    if (!spell) p.set("spellcheck", "false");
    ["category", "date_from", "date_to"].forEach(function (name) { if ($(name).value) p.set(name, $(name).value); });
    if (sortChosen) p.set("sort", $("sort").value);
    if (calls) p.set("calls", calls);
    chosen.country.forEach(function (c) { p.append("country", c); });
    chosen.region.forEach(function (r) { p.append("region", r); });
    chosen.language.forEach(function (l) { p.append("language", l); });
    renderActive();
    lastParams = p; offset = 0; run(false);
  }
  ready = getJSON("/static/messages/" + encodeURIComponent(LANG) + ".json").then(function (catalogue) {
    messages = catalogue;
    translatePage();
  });
  ready.catch(function (e) { console.error("Sift: the words of the page (" + LANG + ") did not load: " + e.message); });
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
