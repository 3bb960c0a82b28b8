/** The {@code tweed} command line: lab, agent, CNI installation, benchmarks. */
package dev.tweed.cli;
