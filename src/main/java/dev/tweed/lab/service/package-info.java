/**
 * The lab's operations, written once: get, apply, delete, probe, reachability, trace, observe,
 * status and topology. The CLI's {@code tweed lab ...} commands and the web view's HTTP API are
 * thin adapters over {@link dev.tweed.lab.service.LabService}; requests are records that validate
 * themselves, answers are records that print themselves as the JSON both faces share.
 */
package dev.tweed.lab.service;
