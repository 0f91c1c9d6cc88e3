// The time slider's tooltip as a clock time (dcc.RangeSlider tooltip.transform looks functions up here):
// hours since election-day midnight, "09:00", and "02:00 +1" past midnight, as dashboard.filters.format_hour says.
window.dccFunctions = window.dccFunctions || {};
window.dccFunctions.obsmapHour = function (hours) {
    var h = Math.floor(Number(hours));
    if (!isFinite(h)) { return String(hours); }
    return String(h % 24).padStart(2, "0") + ":00" + (h >= 24 ? " +1" : "");
};
