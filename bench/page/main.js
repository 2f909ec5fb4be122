// Makes the benchmarks reachable by the driver; loads nothing else.
window.bench = await import("/bench.js");
document.body.dataset.ready = "true";
