// Package component is the contract between the agent and its inputs and
// outputs: a factory per type makes the type's Config (its keys, defaults and
// Validate) and builds the component from it without side effects; Run
// acquires what the component holds (sockets, files, checkpoints), says
// Ready, serves until its context ends and releases everything before it
// returns. The package also fixes the one metric vocabulary every component
// reports in, and the states a component can be in.
package component
