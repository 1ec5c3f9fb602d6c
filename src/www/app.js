/* ringfence dashboard script (served as /static/app.js, loaded with
 * defer).  Progressive enhancement only: every page works without it.
 * No inline script anywhere (the Content-Security-Policy forbids it).
 *
 * Contracts for page authors:
 *
 * data-confirm="Question?"
 *   On a <form>, a <button> or an <input type=submit>: before the form is
 *   submitted the browser asks the question (window.confirm); "Cancel"
 *   submits nothing.  Without JavaScript the form submits at once, so the
 *   action must still be safe to take (and the server still checks it).
 *
 * data-refresh="/local/path?query"
 *   On any element: every 5 seconds its content is replaced with the
 *   answer of GET <that URL> (same origin, credentials included), which
 *   must be an HTML fragment (no <html>, no <head>; escaped like every
 *   page body, text/html, status 200).  Any other status, or a redirect
 *   (an expired session), stops the refresh of that element and leaves the
 *   content as it was.  Nothing is refreshed while the tab is hidden, or
 *   while the focus is inside the element (a form being filled in).  The
 *   URL must start with one "/" (a local path); anything else is ignored.
 */
(function () {
	"use strict";

	var REFRESH_MS = 5000;

	function confirmFor(el) {
		var q = el && el.getAttribute ? el.getAttribute("data-confirm") : null;
		return q ? window.confirm(q) : true;
	}

	/* A submit: the button pressed, then the form, may each ask. */
	document.addEventListener("submit", function (ev) {
		var form = ev.target;
		var button = ev.submitter || null;
		if (button && button.hasAttribute("data-confirm")) {
			if (!confirmFor(button)) {
				ev.preventDefault();
			}
			return;
		}
		if (form && form.hasAttribute && form.hasAttribute("data-confirm") && !confirmFor(form)) {
			ev.preventDefault();
		}
	}, true);

	/* Browsers without SubmitEvent.submitter: ask on the button's click. */
	if (!("SubmitEvent" in window && "submitter" in window.SubmitEvent.prototype)) {
		document.addEventListener("click", function (ev) {
			var b = ev.target && ev.target.closest ? ev.target.closest("[data-confirm]") : null;
			if (b && b.tagName !== "FORM" && b.form && !confirmFor(b)) {
				ev.preventDefault();
			}
		}, true);
	}

	function localPath(u) {
		return typeof u === "string" && u.charAt(0) === "/" && u.charAt(1) !== "/" &&
			u.charAt(1) !== "\\";
	}

	function refreshOne(el) {
		var url = el.getAttribute("data-refresh");
		if (!localPath(url) || el.getAttribute("data-refresh-stopped") === "1") {
			return;
		}
		if (document.hidden || el.contains(document.activeElement)) {
			return;
		}
		fetch(url, {
			credentials: "same-origin",
			redirect: "manual",
			headers: { "Accept": "text/html" }
		}).then(function (res) {
			if (res.status !== 200 || res.type === "opaqueredirect") {
				el.setAttribute("data-refresh-stopped", "1");
				return null;
			}
			return res.text();
		}).then(function (html) {
			if (html !== null && html !== undefined && !el.contains(document.activeElement)) {
				el.innerHTML = html;
			}
		}).catch(function () {
			/* Offline for a moment: try again at the next tick. */
		});
	}

	function refreshAll() {
		var els = document.querySelectorAll("[data-refresh]");
		for (var i = 0; i < els.length; i++) {
			refreshOne(els[i]);
		}
	}

	if (window.fetch && document.querySelector("[data-refresh]")) {
		window.setInterval(refreshAll, REFRESH_MS);
	}
})();
