/* obsmap in the browser, beside the clientside callbacks of dashboard/callbacks.py: the wheel over the map, the
   briefing view's phase keys, larger hovers on a projector, and the map's colour bar on a narrow screen.
   Dash serves and loads every .js file of dashboard/assets/ from this server ('self' in the page's CSP). */
(function () {
  "use strict";

  function plotOf(id) { return document.querySelector("#" + id + " .js-plotly-plot"); }
  function inMap(node) { var m = document.getElementById("region-map"); return !!(m && node && m.contains(node)); }
  // By the page's own element, not a search of the whole document: tune() asks every second, and a page with a
  // table of thousands of regions has tens of thousands of elements.
  function briefing() { var p = document.getElementById("page"); return !!(p && p.classList.contains("obs-briefing")); }

  // ---------------------------------------------------------------- the wheel: the page scrolls, unless the map was clicked
  // Like a web map's "cooperative gestures": the wheel over a map not clicked into scrolls the page (the event is stopped
  // on its way down, before MapLibre's own listener: nothing prevents the browser's scroll) and a hint says how to zoom.
  // A click (or a drag) into the map lets the wheel zoom it, until the pointer leaves the map or a click lands outside.
  // Ctrl + wheel (and a trackpad's pinch, which is one) always reaches the map.
  var active = false, hintTimer = null;
  function setActive(on) {
    active = on;
    var box = document.getElementById("map-box");
    if (box) { box.classList.toggle("obs-map-active", on); }
  }
  function showHint() {
    var hint = document.getElementById("map-hint");
    if (!hint) { return; }
    hint.classList.add("obs-map-hint-on");
    clearTimeout(hintTimer);
    hintTimer = setTimeout(function () { hint.classList.remove("obs-map-hint-on"); }, 1400);
  }
  window.addEventListener("wheel", function (e) {
    if (active || e.ctrlKey || !inMap(e.target)) { return; }
    e.stopPropagation();
    showHint();
  }, {capture: true, passive: true});
  document.addEventListener("pointerdown", function (e) { setActive(inMap(e.target)); }, true);
  document.addEventListener("pointerover", function (e) { if (active && !inMap(e.target)) { setActive(false); } }, true);
  document.documentElement.addEventListener("pointerleave", function () { setActive(false); });
  window.addEventListener("blur", function () { setActive(false); });
  window.obsmapMapActive = function () { return active; };  // for the tests

  // ---------------------------------------------------------------- the briefing view: keys 1-4 choose the phase
  // The phase control is hidden there; its value is set from the browser, as a click on it would (one view change).
  // Not while typing (a text field, a dropdown's search), nor with a modifier (Ctrl+1 is the browser's).
  var TYPING = /^(text|search|email|number|password|tel|url|date|time|datetime-local|month|week)$/;
  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.repeat || !briefing()) { return; }
    var t = e.target;
    if (t && (t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
              (t.tagName === "INPUT" && TYPING.test(t.type || "text")))) { return; }
    var n = ["1", "2", "3", "4"].indexOf(e.key);
    var inputs = document.querySelectorAll("#phase input");
    var set = window.dash_clientside && window.dash_clientside.set_props;
    if (n < 0 || !inputs[n] || !set) { return; }
    e.preventDefault();
    if (!inputs[n].checked) { set("phase", {value: inputs[n].value}); }
  });

  // ---------------------------------------------------------------- what plotly draws, tuned to the screen
  var NARROW = 600;  // px of map: below it the colour bar takes the map's width, in smaller type, its title on two lines
  // Hover labels read on a projector (the template's 16 px elsewhere), a quarter larger on a 1920 px screen, as the
  // briefing's type is (10-obsmap.css); not larger at 1280 px: a long hover would no longer fit the map's width.
  function hoverBriefing() { return window.innerWidth >= 1700 ? 24 : 19; }

  function wrap(title, fontPx, width) {
    var plain = String(title || "").replace(/<br>/g, " ");
    if (plain.length * fontPx * 0.56 < width * 0.95) { return plain; }
    var mid = Math.floor(plain.length / 2), cut = -1;
    for (var d = 0; d < mid; d++) {
      if (plain[mid + d] === " ") { cut = mid + d; break; }
      if (plain[mid - d] === " ") { cut = mid - d; break; }
    }
    return cut < 0 ? plain : plain.slice(0, cut) + "<br>" + plain.slice(cut + 1);
  }

  function get(obj, path) {
    for (var i = 0; i < path.length && obj; i++) { obj = obj[path[i]]; }
    return obj;
  }

  // The server sends the colour bar's size for a wide map (its patches set it on every view change): on a narrow map
  // the bar would be too short for its seven labels, which plotly then turns sideways. Here the bar is re-sized after
  // each draw (colour-bar changes redraw the bar only) and given back the server's values when the map widens again.
  function tuneColourBar(gd) {
    var trace = gd.data && gd.data[0];
    if (!trace || !trace.colorbar || !gd._fullLayout) { return; }
    var width = gd._fullLayout.width || gd.clientWidth;
    var cb = trace.colorbar, update = {};
    if (width < NARROW) {
      // Type that lets the longest one-line label ("no data", "too few") fit its class's share of the bar.
      var classes = (cb.ticktext || []).length || 8;
      var font = Math.max(10, Math.min(12, Math.round(0.97 * width / classes / 4.6)));
      var want = {"colorbar.len": 0.97, "colorbar.tickfont.size": font, "colorbar.title.font.size": font + 1,
                  "colorbar.tickangle": 0, "colorbar.title.text": wrap(get(cb, ["title", "text"]), font + 1, width)};
      if (!gd._obsmapWide) {
        gd._obsmapWide = {"colorbar.len": cb.len, "colorbar.tickfont.size": get(cb, ["tickfont", "size"]),
                          "colorbar.title.font.size": get(cb, ["title", "font", "size"]), "colorbar.tickangle": cb.tickangle};
      }
      Object.keys(want).forEach(function (k) {
        if (get(trace, k.split(".")) !== want[k]) { update[k] = want[k]; }
      });
    } else if (gd._obsmapWide) {
      update = gd._obsmapWide;
      update["colorbar.title.text"] = String(get(cb, ["title", "text"]) || "").replace(/<br>/g, " ");
      delete gd._obsmapWide;
    }
    if (Object.keys(update).length && window.Plotly) { window.Plotly.restyle(gd, update, [0]); }
  }

  function tuneHovers(gd) {
    var want = briefing() ? hoverBriefing() : null;
    var now = get(gd.layout, ["hoverlabel", "font", "size"]);
    if ((now || null) !== want && window.Plotly) { window.Plotly.relayout(gd, {"hoverlabel.font.size": want}); }
  }

  function tune() {
    ["region-map", "problem-chart", "timeline"].forEach(function (id) {
      var gd = plotOf(id);
      if (!gd || !gd._fullLayout || !gd.data) { return; }
      if (!gd._obsmapTuned && gd.on) {  // after each of plotly's draws (a view change, a resize)
        gd._obsmapTuned = true;
        gd.on("plotly_afterplot", function () { setTimeout(tune, 0); });
      }
      if (id === "region-map") { tuneColourBar(gd); }
      tuneHovers(gd);
    });
  }
  // Also every second: the briefing view's class can arrive after the figure's last draw.
  setInterval(tune, 1000);

  // ---------------------------------------------------------------- the page's language
  // The words scripts write come from the server, in the page's language (layout.page_texts): never English here.
  window.obsmapText = function (key) {
    var el = document.getElementById("obs-i18n");
    try { return JSON.parse((el && el.getAttribute("data-i18n")) || "{}")[key] || ""; } catch (e) { return ""; }
  };
  // The language switch (layout.language_switch): the same view, as the browser shows it now (the URL follows every
  // change of the view), in another language. The link's own href (the view as the page opened) is the fallback.
  document.addEventListener("click", function (e) {
    var link = e.target && e.target.closest ? e.target.closest("a[data-lang]") : null;
    if (!link || e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) { return; }
    var params = new URLSearchParams(window.location.search);
    params.set("lang", link.getAttribute("data-lang"));
    e.preventDefault();
    window.location.assign(window.location.pathname + "?" + params.toString());
  }, true);
}());

// Numbers in AG Grid's cells in the page's language ("1 234" in Russian): layout._translated_columns names it in a
// column's valueFormatter. Blank stays blank.
window.dashAgGridFunctions = window.dashAgGridFunctions || {};
window.dashAgGridFunctions.obsmapNumber = function (value, lang, decimals) {
  if (value === null || value === undefined || value === "" || isNaN(Number(value))) { return value === null || value === undefined ? "" : String(value); }
  return new Intl.NumberFormat(lang, {minimumFractionDigits: decimals, maximumFractionDigits: decimals}).format(Number(value));
};
