/**
 * The web view of a lab: an HTTP server on the loopback address that serves the page (plain
 * JavaScript modules and CSS, all from the jar) and a small JSON API, each route a thin adapter
 * over {@link dev.tweed.lab.service.LabService}.
 */
package dev.tweed.lab.web;
