// A grouped bar chart in inline SVG: one group per line, one bar per factor (OEE, A, P, Q), 0-100 %.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const SERIES = [
    { key: "oee", label: "OEE", color: "#1d3557" },
    { key: "availability", label: "Availability", color: "#e76f51" },
    { key: "performance", label: "Performance", color: "#2a9d8f" },
    { key: "quality", label: "Quality", color: "#e9c46a" },
  ];

  function node(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, value));
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function render(container, groups) {
    container.replaceChildren();
    if (!groups.length) {
      container.textContent = "No planned production time in this range.";
      return;
    }
    const plot = { left: 44, top: 34, height: 260, groupWidth: Math.max(140, 520 / groups.length) };
    const width = plot.left + plot.groupWidth * groups.length + 10;
    const svg = node("svg", { viewBox: `0 0 ${width} ${plot.top + plot.height + 46}`, role: "img",
                              "aria-label": "OEE, availability, performance and quality per line" });
    const y = (percent) => plot.top + plot.height * (1 - Math.min(percent, 100) / 100);
    [0, 25, 50, 75, 100].forEach((tick) => {
      svg.append(node("line", { x1: plot.left, x2: width - 10, y1: y(tick), y2: y(tick), stroke: "#d0d5dd" }));
      svg.append(node("text", { x: plot.left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 11 }, `${tick}%`));
    });
    SERIES.forEach((series, index) => {
      const x = plot.left + index * 110;
      svg.append(node("rect", { x, y: 6, width: 12, height: 12, fill: series.color }));
      svg.append(node("text", { x: x + 16, y: 16, "font-size": 12 }, series.label));
    });
    const barWidth = (plot.groupWidth - 30) / SERIES.length;
    groups.forEach((group, groupIndex) => {
      const groupLeft = plot.left + groupIndex * plot.groupWidth + 15;
      SERIES.forEach((series, index) => {
        const value = group.values[series.key];
        if (value === null || value === undefined) return;
        const x = groupLeft + index * barWidth;
        const bar = node("rect", { x, y: y(value), width: barWidth - 3, height: y(0) - y(value), fill: series.color,
                                   "data-line": group.label, "data-series": series.key });
        bar.append(node("title", {}, `${group.label} ${series.label}: ${value.toFixed(1)} %`));
        svg.append(bar);
        svg.append(node("text", { x: x + (barWidth - 3) / 2, y: y(value) - 3, "text-anchor": "middle",
                                  "font-size": 10 }, value.toFixed(1)));
      });
      svg.append(node("text", { x: groupLeft + (plot.groupWidth - 30) / 2, y: plot.top + plot.height + 18,
                                "text-anchor": "middle", "font-size": 12 }, group.label));
    });
    container.append(svg);
  }

  window.OeeChart = { render, SERIES };
})();
