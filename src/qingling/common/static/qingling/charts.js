/* Qingling dashboard charts. ECharts is served by the app itself (static/vendor/echarts,
   installed by ./dev setup): nothing is fetched from outside. The tables next to each chart
   hold every number, so the charts are a picture of them, not the only copy. */
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  function draw(el, option) {
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    el.setAttribute("data-drawn", "1");
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }
  ready(function () {
    var script = document.getElementById("chart-data");
    if (!script) { return; }
    if (!window.echarts) {
      var missing = document.getElementById("chart-missing");
      if (missing) { missing.hidden = false; }
      return;
    }
    var d = JSON.parse(script.textContent);
    var L = d.labels;
    var names = d.counties.map(function (c) { return c.name; });
    draw(document.getElementById("chart-rate"), {
      animation: false,
      grid: { left: 40, right: 10, top: 20, bottom: 40 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: names },
      yAxis: { type: "value", max: 100, name: "%" },
      series: [{
        type: "bar", name: L.rate,
        data: d.counties.map(function (c) {
          return { value: c.rate === null ? 0 : c.rate,
                   itemStyle: { color: c.overdue ? "#c0392b" : "#2e7d32" } };
        }),
        label: { show: true, position: "top",
                 formatter: function (p) { var c = d.counties[p.dataIndex];
                   return c.rate === null ? "—" : c.rate + "%"; } }
      }]
    });
    draw(document.getElementById("chart-stock"), {
      animation: false,
      grid: { left: 40, right: 10, top: 30, bottom: 55 },
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", bottom: 0 },
      xAxis: { type: "category", data: d.trend.weeks },
      yAxis: { type: "value", name: L.stock },
      series: d.trend.series.map(function (s) {
        return { type: "line", name: s.name, data: s.data, symbolSize: 6 };
      })
    });
    var mapEl = document.getElementById("chart-map");
    var byName = {};
    d.counties.forEach(function (c) { byName[c.name] = c; });
    function tileColor(c) {
      if (c.overdue) { return "#c0392b"; }
      if (c.stock_delta !== null && c.stock_delta > 0) { return "#e67e22"; }
      return "#2e7d32";
    }
    function tileText(c) {
      var delta = c.stock_delta === null ? "—" : (c.stock_delta > 0 ? "+" : "") + c.stock_delta;
      return c.name + "\n" + L.overdue + " " + c.overdue + "\n" + L.stock_change + " " + delta;
    }
    var url = mapEl.getAttribute("data-geojson");
    if (url) {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (geo) {
        window.echarts.registerMap("qingling-city", geo);
        draw(mapEl, {
          animation: false,
          tooltip: { formatter: function (p) { var c = byName[p.name]; return c ? tileText(c) : p.name; } },
          series: [{ type: "map", map: "qingling-city", roam: false,
            label: { show: true },
            data: d.counties.map(function (c) {
              return { name: c.name, value: c.overdue, itemStyle: { areaColor: tileColor(c) } };
            }) }]
        });
      });
      return;
    }
    var maxX = 0, maxY = 0;
    d.counties.forEach(function (c) { maxX = Math.max(maxX, c.x); maxY = Math.max(maxY, c.y); });
    draw(mapEl, {
      animation: false,
      grid: { left: 10, right: 10, top: 10, bottom: 10 },
      xAxis: { type: "value", min: -0.5, max: maxX + 0.5, show: false },
      yAxis: { type: "value", min: -0.5, max: maxY + 0.5, show: false, inverse: true },
      tooltip: { formatter: function (p) { return tileText(d.counties[p.dataIndex]).replace("\n", "<br>"); } },
      series: [{
        type: "scatter", symbol: "roundRect", symbolSize: [96, 64],
        data: d.counties.map(function (c) {
          return { value: [c.x, c.y], itemStyle: { color: tileColor(c) } };
        }),
        label: { show: true, color: "#fff", fontSize: 11,
                 formatter: function (p) { return tileText(d.counties[p.dataIndex]); } }
      }]
    });
  });
})();
