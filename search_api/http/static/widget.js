/* Sift related-posts widget, embedded with one tag where the box should appear:
   <script src="https://sift.example.org/widget.js" data-article-id="pr-049" async></script>
   Options data-url, -count, -layout, -title, -target, -lang: docs/widget.md.
   Article text is only set with textContent; only http(s) URLs become links. */
(function () {
  "use strict";
  var SRC = /\/widget\.js(?:[?#].*)?$/;
  var LANGS = ["en"], SITE_LANG = "en";  // widget.py writes the catalogues' languages and SIFT_UI_LANGUAGE here

  // The first of data-lang and the page's <html lang> with a catalogue ("pt-BR": pt-br, else pt), else the site's
  function language(tags) {
    for (var i = 0; i < tags.length; i++) {
      var tag = String(tags[i] || "").toLowerCase(), main = tag.split("-")[0];
      if (LANGS.indexOf(tag) >= 0) return tag;
      if (LANGS.indexOf(main) >= 0) return main;
    }
    return SITE_LANG;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "omit" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " from " + url);
      return r.json();
    });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function warn(me, why) {
    if (window.console) console.warn("Sift widget (" + me.src + "): " + why);
  }

  function whenReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  // widget.css beside widget.js: one <link>, once.
  function addStyles(base) {
    if (document.getElementById("sift-css")) return;
    var link = document.createElement("link");
    link.id = "sift-css";
    link.rel = "stylesheet";
    link.href = base + "/widget.css";
    (document.head || document.documentElement).appendChild(link);
  }

  // Impressions and clicks; no cookies, nothing about the reader.
  function report(opts, shown, clicked) {
    fetch(opts.base + "/widget/events", { method: "POST", keepalive: true, credentials: "omit", mode: "no-cors",
      body: JSON.stringify({ article_id: opts.id, shown: shown, clicked: clicked }) }).catch(function () {});
  }

  function render(me, opts, items, words) {
    var box = el("aside", "sift-box sift-" + opts.layout);
    var heading = opts.title != null ? opts.title : words["widget.heading"];
    // calendar days, at UTC midnight so no time zone moves them
    var dates = new Intl.DateTimeFormat(opts.lang, { dateStyle: "medium", timeZone: "UTC" });
    function day(iso) { return dates.format(new Date(String(iso).slice(0, 10) + "T00:00:00Z")); }
    box.lang = opts.lang;
    box.dir = /^(ar|he|fa|ur)\b/.test(opts.lang) ? "rtl" : "ltr";
    box.setAttribute("aria-label", heading || words["widget.heading"]);
    if (heading) box.appendChild(el("h2", "sift-title", heading));
    var list = box.appendChild(el("ul", "sift-items"));
    items.forEach(function (item) {
      var li = list.appendChild(el("li", "sift-item"));
      var url = /^https?:\/\//i.test(item.url || "") ? item.url : null;
      var title = li.appendChild(el(url ? "a" : "span", "sift-link", item.title));
      title.dir = "auto";  // an English title in an Arabic box reads left to right, and the reverse
      if (url) { title.href = url; title.onclick = function () { report(opts, [], item.id); }; }
      if (item.published_at) li.appendChild(el("span", "sift-date", day(item.published_at)));
      if (item.deadline) {
        var said = words[item.deadline_passed ? "widget.closed" : "widget.deadline"];
        li.appendChild(el("span", "sift-date", said.replace("{date}", day(item.deadline))));
      }
      if (opts.layout === "cards") {
        if (item.categories && item.categories.length) li.appendChild(el("span", "sift-meta", item.categories.join(" · ")));
        if (item.reason) li.appendChild(el("span", "sift-why", item.reason));
      }
    });
    if (opts.target) opts.target.appendChild(box);
    else me.parentNode.insertBefore(box, me.nextSibling);
    report(opts, items.map(function (i) { return i.id; }), null);
  }

  function start(me) {
    me.siftDone = true;
    var data = me.dataset || {};
    var base = me.src.replace(SRC, "");
    var count = Math.min(Math.max(parseInt(data.count, 10) || 5, 1), 50);
    var opts = {
      base: base,
      lang: language([data.lang, document.documentElement.lang]),
      layout: data.layout === "cards" ? "cards" : "list",
      title: data.title
    };
    var endpoint;
    if (data.articleId) {
      endpoint = base + "/articles/" + encodeURIComponent(data.articleId) + "/related?k=" + count;
    } else {
      var canonical = document.querySelector('link[rel="canonical"]');
      var page = data.url || (canonical && canonical.href) || location.href.split("#")[0];
      endpoint = base + "/widget/related?url=" + encodeURIComponent(page) + "&k=" + count;
    }
    if (!window.fetch) return warn(me, "this browser has no fetch(), so no related posts");
    Promise.all([getJSON(endpoint), getJSON(base + "/static/messages/" + opts.lang + ".json")])
      .then(function (got) {
        var body = got[0], items = (body && body.items) || [];
        opts.id = body.article_id;
        if (!items.length) return warn(me, "no related posts for this article");
        whenReady(function () {
          if (data.target) {
            try { opts.target = document.querySelector(data.target); } catch (e) { opts.target = null; }
            if (!opts.target) return warn(me, "data-target " + data.target + " matches no element");
          } else if (!me.parentNode || me.parentNode === document.head) {
            return warn(me, "put the script tag in <body> where the box should go, or set data-target");
          }
          addStyles(base);
          render(me, opts, items, got[1]);
        });
      })
      .catch(function (err) { warn(me, "no related posts shown: " + err.message); });
  }

  var me = document.currentScript;
  if (me && !me.siftDone) return start(me);
  // No currentScript (old browsers): start every widget tag not started yet.
  var scripts = document.getElementsByTagName("script");
  for (var i = 0; i < scripts.length; i++) {
    if (!scripts[i].siftDone && SRC.test(scripts[i].src || "")) start(scripts[i]);
  }
})();
