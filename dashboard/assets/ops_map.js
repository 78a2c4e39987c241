/*
 * The Operations map's band traces, rebuilt in the browser each tick.
 *
 * The page holds the links' geometry (dashboard/link_state.py link_geometry, sent once);
 * each tick the server sends only the map update of dashboard/live_layers.py live_update:
 * the band, shown speed and vehicles of each link with vehicles (dashboard/link_state.py
 * link_state; the others are "no vehicles"), and the marker layers that changed.
 * bandTraces builds exactly what dashboard/figures.py speed_band_traces builds on the
 * server (the browser test compares them): per band, the polylines of its links in link
 * order, each followed by a null separator, the link's hover text on every point; a band
 * without links is one null point, so it keeps its legend entry.
 */
(function () {
    "use strict";

    /* The middle line of a link's hover text: dashboard/figures.py speed_text. */
    function speedText(speedKmh, vehicles) {
        if (speedKmh === null || speedKmh === undefined) {
            return "no vehicles";
        }
        const veh = (vehicles === null || vehicles === undefined) ? "" : " \u00b7 " + vehicles + " veh";
        return speedKmh + " km/h" + veh;
    }

    /* One {x, y, hovertext} per band 0 .. geometry.n_bands - 1. */
    function bandTraces(geometry, links) {
        const offsets = geometry.offsets;
        const lon = geometry.lon;
        const lat = geometry.lat;
        const nLinks = geometry.head.length;
        const band = new Array(nLinks).fill(geometry.empty_band);
        const speedKmh = new Array(nLinks).fill(null);
        const vehicles = new Array(nLinks).fill(null);
        links.link.forEach(function (i, k) {
            band[i] = links.band[k];
            speedKmh[i] = links.speed_kmh[k];
            vehicles[i] = links.vehicles[k];
        });
        const traces = [];
        for (let b = 0; b < geometry.n_bands; b++) {
            traces.push({x: [], y: [], hovertext: []});
        }
        for (let i = 0; i < nLinks; i++) {
            const trace = traces[band[i]];
            if (trace === undefined) {
                continue;
            }
            const text = geometry.head[i] + speedText(speedKmh[i], vehicles[i]) + geometry.tail[i];
            for (let k = offsets[i]; k < offsets[i + 1]; k++) {
                trace.x.push(lon[k]);
                trace.y.push(lat[k]);
                trace.hovertext.push(text);
            }
            trace.x.push(null);
            trace.y.push(null);
            trace.hovertext.push(null);
        }
        traces.forEach(function (trace) {
            if (trace.x.length === 0) {
                trace.x.push(null);
                trace.y.push(null);
                trace.hovertext.push(null);
            }
        });
        return traces;
    }

    /* The trace with update's properties set; an object property (marker) is merged. */
    function mergeTrace(trace, update) {
        const out = Object.assign({}, trace);
        Object.keys(update).forEach(function (key) {
            const value = update[key];
            const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
            if (isObject && out[key] !== null && typeof out[key] === "object") {
                out[key] = Object.assign({}, out[key], value);
            } else {
                out[key] = value;
            }
        });
        return out;
    }

    /* The clientside callback: the figure with the tick's update applied. */
    function draw(update, geometry, figure) {
        if (!update || !geometry || !figure) {
            return window.dash_clientside.no_update;
        }
        const data = figure.data.slice();
        bandTraces(geometry, update.links).forEach(function (trace, i) {
            data[i] = mergeTrace(data[i], trace);
        });
        update.layers.forEach(function (pair) {
            data[pair[0]] = mergeTrace(data[pair[0]], pair[1]);
        });
        return Object.assign({}, figure, {data: data});
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        kota_ops: {draw: draw, bandTraces: bandTraces, speedText: speedText},
    });
})();
