/* Tabs of the contact profile (WAI-ARIA tabs pattern). Without this script every panel shows, one under
   the other. The chosen tab is kept in the address (#timeline, #edit…), so a reload or a shared link opens
   it; the arrow keys move between tabs (mirrored on a right-to-left page), Home and End go to the ends. */
(function () {
    "use strict";

    function setUp() {
        var list = document.querySelector(".profile-tabs[role=tablist]");
        if (!list) {
            return;
        }
        var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
        var byKey = {};
        tabs.forEach(function (tab) {
            byKey[tab.getAttribute("href").slice(1)] = tab;
        });
        var rtl = document.documentElement.dir === "rtl";

        function panelOf(tab) {
            return document.getElementById(tab.getAttribute("aria-controls"));
        }

        function select(tab, focus) {
            tabs.forEach(function (other) {
                var chosen = other === tab;
                other.setAttribute("aria-selected", chosen ? "true" : "false");
                other.tabIndex = chosen ? 0 : -1;
                var panel = panelOf(other);
                if (panel) {
                    panel.hidden = !chosen;
                }
            });
            if (focus) {
                tab.focus();
            }
        }

        function keep(tab) {
            var hash = tab.getAttribute("href");
            if (window.location.hash !== hash) {
                window.history.replaceState(null, "", hash);
            }
        }

        function fromHash() {
            return byKey[window.location.hash.slice(1)];
        }

        list.addEventListener("click", function (event) {
            var tab = event.target.closest("[role=tab]");
            if (!tab) {
                return;
            }
            event.preventDefault();
            select(tab, true);
            keep(tab);
        });

        list.addEventListener("keydown", function (event) {
            var index = tabs.indexOf(document.activeElement);
            if (index < 0) {
                return;
            }
            var next = {ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1}[event.key];
            var target = null;
            if (next) {
                target = tabs[(index + next + tabs.length) % tabs.length];
            } else if (event.key === "Home") {
                target = tabs[0];
            } else if (event.key === "End") {
                target = tabs[tabs.length - 1];
            }
            if (target) {
                event.preventDefault();
                select(target, true);
                keep(target);
            }
        });

        window.addEventListener("hashchange", function () {
            var tab = fromHash();
            if (tab) {
                select(tab, false);
            }
        });

        var initial = byKey[list.dataset.initial] || fromHash() || tabs[0];
        select(initial, false);
        if (list.dataset.initial) {
            keep(initial);
        }
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", setUp);
    } else {
        setUp();
    }
})();
