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
 *
 * #notify-nav (the header's "Notifications" item; data-after: the newest
 * notification id the page was built with)
 *   Every 5 seconds while the tab is visible, GET
 *   /notifications.json?after=<that id>: the count (#notify-count) shows
 *   the unseen notifications; on a page with #notify-list (Today's panel,
 *   the first page of /notifications) each new notification is put on top,
 *   unseen, built with text only (never markup from the answer), and the
 *   "Mark all seen" forms' upto moves to the newest id shown.  A 401 (the
 *   session ended) or any other answer that is not 200 JSON stops it.
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

	/* ---- what clients said ---- */

	var BADGES = { "badge-ok": 1, "badge-bad": 1, "badge-attention": 1, "badge-pending": 1 };
	var notifyStopped = false;

	function span(cls, text) {
		var s = document.createElement("span");
		s.className = cls;
		s.textContent = text;
		return s;
	}

	function notifyRow(n) {
		var li = document.createElement("li");
		var a = document.createElement("a");
		li.className = "notify unseen";
		li.setAttribute("data-id", String(n.id));
		li.appendChild(span("badge " + (BADGES[n.badge] ? n.badge : "badge-attention"),
			String(n.words)));
		li.appendChild(document.createTextNode(" "));
		a.className = "notify-client";
		a.href = typeof n.appointment_id === "number" ?
			"/appointments/" + n.appointment_id : "/notifications";
		a.textContent = n.client ? String(n.client) : "A client";
		li.appendChild(a);
		li.appendChild(document.createTextNode(" "));
		li.appendChild(span("muted small notify-when",
			n.appointment_at ? "appointment " + n.appointment_at : ""));
		li.appendChild(document.createTextNode(" "));
		li.appendChild(span("notify-detail", String(n.detail || "")));
		li.appendChild(document.createTextNode(" "));
		li.appendChild(span("muted small notify-at", String(n.created_at || "")));
		return li;
	}

	function notifyApply(nav, data) {
		var count = document.getElementById("notify-count");
		var list = document.getElementById("notify-list");
		var rows = data.notifications;
		var last = Number(nav.getAttribute("data-after")) || 0;
		var i, forms;
		if (count) {
			count.textContent = String(data.unseen);
			count.classList.toggle("notify-none", data.unseen === 0);
		}
		/* Newest first in the answer: the oldest new one goes on top
		 * first, so the newest ends up above it. */
		for (i = rows.length - 1; i >= 0; i--) {
			if (typeof rows[i].id !== "number" || rows[i].id <= last) {
				continue;
			}
			if (list && !list.querySelector("[data-id=\"" + rows[i].id + "\"]")) {
				list.insertBefore(notifyRow(rows[i]), list.firstChild);
			}
			last = rows[i].id;
		}
		if (list && rows.length > 0) {
			var empty = document.getElementById("notify-empty");
			if (empty) {
				empty.parentNode.removeChild(empty);
			}
			forms = document.querySelectorAll("form.notify-seen input[name=upto]");
			for (i = 0; i < forms.length; i++) {
				forms[i].value = String(last);
			}
		}
		nav.setAttribute("data-after", String(last));
	}

	function notifyPoll() {
		var nav = document.getElementById("notify-nav");
		if (!nav || notifyStopped || document.hidden) {
			return;
		}
		var after = Number(nav.getAttribute("data-after")) || 0;
		fetch("/notifications.json?after=" + after, {
			credentials: "same-origin",
			redirect: "manual",
			headers: { "Accept": "application/json" }
		}).then(function (res) {
			if (res.status !== 200 || res.type === "opaqueredirect") {
				notifyStopped = true;
				return null;
			}
			return res.json();
		}).then(function (data) {
			if (data && Array.isArray(data.notifications) && typeof data.unseen === "number") {
				notifyApply(nav, data);
			}
		}).catch(function () {
			/* Offline for a moment: try again at the next tick. */
		});
	}

	if (window.fetch && document.getElementById("notify-nav")) {
		window.setInterval(notifyPoll, REFRESH_MS);
		document.addEventListener("visibilitychange", function () {
			if (!document.hidden) {
				notifyPoll();
			}
		});
	}
})();
