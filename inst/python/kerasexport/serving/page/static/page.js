// The page of `kerasexport serve`: polls /page/models, shows each model's versions and
// signatures, and sends the form's request to TF-Serving's :predict as the user wrote it.
(function () {
  "use strict";
  var POLL_MS = 3000;
  var TOKEN_KEY = "kerasexport-token";
  var cards = {};  // model name -> {element, key}
  var main = document.getElementById("models");
  var status = document.getElementById("status");

  // JSON with one line per array of numbers (strings hold no raw newline, so only layout changes).
  function pretty(value) {
    return JSON.stringify(value, null, 1).replace(/\[\n\s*(-?[\d.eE+-]+(?:,\n\s*-?[\d.eE+-]+)*)\n\s*\]/g,
      function (match, inner) { return "[" + inner.split(/,\n\s*/).join(", ") + "]"; });
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function headers(extra) {
    var h = Object.assign({}, extra || {});
    if (token()) h.Authorization = "Bearer " + token();
    return h;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function shapeText(shape) {
    if (shape === null) return "unknown rank";
    return "(" + shape.map(function (d) { return d === null ? "None" : String(d); }).join(", ") +
      (shape.length === 1 ? ",)" : ")");
  }

  function tensorTable(title, tensors) {
    var rows = tensors.map(function (t) {
      return el("tr", {}, [el("td", {text: t.name}), el("td", {text: t.dtype}), el("td", {text: shapeText(t.shape)})]);
    });
    return el("table", {class: title}, [
      el("thead", {}, [el("tr", {}, [el("th", {text: title}), el("th", {text: "dtype"}), el("th", {text: "shape"})])]),
      el("tbody", {}, rows)]);
  }

  function askForToken(message) {
    document.getElementById("token").hidden = false;
    document.getElementById("token-message").textContent = message || "";
  }

  document.getElementById("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = document.getElementById("token-input").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    poll();
  });

  function poll() {
    fetch("/page/models", {headers: headers(), cache: "no-store"}).then(function (response) {
      return response.json().then(function (body) { return {response: response, body: body}; });
    }).then(function (got) {
      if (got.response.status === 401) {
        askForToken(token() ? got.body.error : "");
        status.textContent = "Waiting for a token.";
        return;
      }
      if (!got.response.ok) throw new Error(got.body.error || ("status " + got.response.status));
      document.getElementById("token").hidden = true;
      render(got.body);
      status.textContent = got.body.models.length + " model" + (got.body.models.length === 1 ? "" : "s") +
        " · kerasexport " + got.body.server + " · updated " + new Date().toLocaleTimeString();
    }).catch(function (error) {
      status.textContent = "Cannot reach the server: " + error.message + " (retrying).";
    });
  }

  function render(state) {
    var seen = {};
    state.models.forEach(function (model) {
      seen[model.name] = true;
      var key = JSON.stringify(model.versions.map(function (v) { return [v.version, v.state, v.endpoints]; }));
      var card = cards[model.name];
      if (card && card.key === key) { updateVersions(card.element, model); return; }
      var element = modelCard(model);
      if (card) main.replaceChild(element, card.element); else main.appendChild(element);
      cards[model.name] = {element: element, key: key};
    });
    Object.keys(cards).forEach(function (name) {
      if (!seen[name]) { main.removeChild(cards[name].element); delete cards[name]; }
    });
    if (!state.models.length && !main.querySelector(".empty")) {
      main.appendChild(el("p", {class: "empty", text: "No models yet: add ROOT/<model>/<version>/ directories."}));
    } else if (state.models.length) {
      var empty = main.querySelector(".empty");
      if (empty) main.removeChild(empty);
    }
  }

  function versionList(model) {
    return el("ul", {class: "versions"}, model.versions.map(function (v) {
      return el("li", {class: "state-" + v.state, "data-version": String(v.version),
        text: "version " + v.version + ": " + v.state.toLowerCase() + (v.format ? " (" + v.format + (v.precision ? ", " + v.precision : "") + ")" : "")});
    }));
  }

  function failures(model) {
    return el("div", {class: "failures"}, model.versions.filter(function (v) { return v.error; }).map(function (v) {
      return el("p", {class: "failure", text: "version " + v.version + " failed to load: " + v.error});
    }));
  }

  function updateVersions(card, model) {
    card.replaceChild(versionList(model), card.querySelector(".versions"));
    card.replaceChild(failures(model), card.querySelector(".failures"));
  }

  function modelCard(model) {
    var card = el("section", {class: "model", "data-model": model.name}, [
      el("h2", {text: model.name}), versionList(model), failures(model)]);
    var available = model.versions.filter(function (v) { return v.state === "AVAILABLE"; });
    if (!available.length) {
      card.appendChild(el("p", {class: "muted", text: "No version available."}));
      return card;
    }
    card.appendChild(tryForm(model, available));
    return card;
  }

  function tryForm(model, available) {
    var versionSelect = el("select", {class: "version", "aria-label": "version"},
      [el("option", {value: "", text: "latest (" + available[0].version + ")"})].concat(available.map(function (v) {
        return el("option", {value: String(v.version), text: "version " + v.version});
      })));
    var endpointSelect = el("select", {class: "endpoint", "aria-label": "endpoint"});
    var signature = el("div", {class: "signature"});
    var images = el("div", {class: "images"});
    var request = el("textarea", {class: "request", spellcheck: "false", "aria-label": "request body"});
    var send = el("button", {class: "send", type: "button", text: "Send"});
    var result = el("div", {class: "result"});
    var form = el("div", {class: "try"}, [
      el("div", {class: "controls"}, [versionSelect, endpointSelect]), signature, images, request,
      el("div", {class: "controls"}, [send]), result]);

    function version() {
      var chosen = versionSelect.value;
      return available.filter(function (v) { return String(v.version) === chosen; })[0] || available[0];
    }

    function endpoint() {
      var endpoints = version().endpoints;
      return endpoints.filter(function (e) { return e.name === endpointSelect.value; })[0] || endpoints[0];
    }

    function showEndpoints() {
      var endpoints = version().endpoints;
      endpointSelect.replaceChildren.apply(endpointSelect, endpoints.map(function (e) {
        return el("option", {value: e.name, text: "endpoint " + e.name + (e.default ? " (default)" : "")});
      }));
      endpointSelect.hidden = endpoints.length < 2;
      showEndpoint();
    }

    function showEndpoint() {
      var e = endpoint();
      signature.replaceChildren(tensorTable("input", e.inputs), tensorTable("output", e.outputs));
      request.value = pretty(e.example);
      images.replaceChildren.apply(images, e.inputs.filter(function (t) { return t.image; }).map(function (t) {
        return imagePicker(t, e, request);
      }));
    }

    versionSelect.addEventListener("change", showEndpoints);
    endpointSelect.addEventListener("change", showEndpoint);
    send.addEventListener("click", function () {
      var v = versionSelect.value;
      var path = "/v1/models/" + encodeURIComponent(model.name) + (v ? "/versions/" + v : "") + ":predict";
      var start = performance.now();
      result.replaceChildren(el("p", {class: "meta", text: "Sending…"}));
      fetch(path, {method: "POST", headers: headers({"Content-Type": "application/json"}), body: request.value})
        .then(function (response) {
          return response.text().then(function (text) {
            var ms = performance.now() - start;
            var meta = el("p", {class: "meta", text: "HTTP " + response.status + " · " + ms.toFixed(1) + " ms"});
            var body;
            try { body = JSON.parse(text); } catch (err) { body = null; }
            if (!response.ok) {
              if (response.status === 401) askForToken(body && body.error);
              result.replaceChildren(meta, el("p", {class: "error", text: body && body.error ? body.error : text}));
            } else {
              result.replaceChildren(meta, el("pre", {class: "answer", text: pretty(body)}));
            }
          });
        })
        .catch(function (error) {
          result.replaceChildren(el("p", {class: "error", text: "The request failed: " + error.message}));
        });
    });
    showEndpoints();
    return form;
  }

  // An image-shaped input takes a PNG or JPEG, resized to its height and width.
  function imagePicker(tensor, endpoint, request) {
    var info = tensor.image;
    var file = el("input", {type: "file", accept: "image/png,image/jpeg", "data-input": tensor.name,
      "aria-label": "image for " + tensor.name});
    var scale = el("select", {class: "scale", "aria-label": "pixel scale"}, [
      el("option", {value: "255", text: "pixels 0–255"}), el("option", {value: "1", text: "pixels 0–1"})]);
    var canvas = el("canvas", {width: String(info.width), height: String(info.height)});
    var note = el("span", {text: tensor.name + ": an image, resized to " + info.height + "×" + info.width +
      (info.channels === 1 ? " grey" : " RGB")});
    file.addEventListener("change", function () {
      if (!file.files.length) return;
      createImageBitmap(file.files[0]).then(function (bitmap) {
        var context = canvas.getContext("2d");
        context.clearRect(0, 0, info.width, info.height);
        context.drawImage(bitmap, 0, 0, info.width, info.height);
        var pixels = context.getImageData(0, 0, info.width, info.height).data;
        var divide = scale.value === "1" ? 255 : 1;
        var image = [];
        for (var y = 0; y < info.height; y++) {
          var row = [];
          for (var x = 0; x < info.width; x++) {
            var i = (y * info.width + x) * 4;
            var rgb = [pixels[i], pixels[i + 1], pixels[i + 2]];
            var values = info.channels === 1 ? [Math.round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])] : rgb;
            row.push(values.map(function (p) { return divide === 1 ? p : p / divide; }));
          }
          image.push(row);
        }
        var value = info.batched ? [image] : image;
        var body;
        try { body = JSON.parse(request.value); } catch (err) { body = JSON.parse(JSON.stringify(endpoint.example)); }
        delete body.instances;
        if (endpoint.inputs.length === 1) {
          body.inputs = value;
        } else {
          if (typeof body.inputs !== "object" || Array.isArray(body.inputs)) body.inputs = {};
          body.inputs[tensor.name] = value;
        }
        request.value = pretty(body);
      }).catch(function (error) {
        note.textContent = tensor.name + ": cannot read this image (" + error.message + ")";
      });
    });
    return el("div", {class: "image"}, [note, file, scale, canvas]);
  }

  poll();
  setInterval(poll, POLL_MS);
})();
