// @fpa/testing: what the e2e tests, the benchmark (tools/bench) and the local suite (tools/suite)
// share. Plain Node: no jest, no Nest testing module — tools/ run it from dist/. The in-process
// app (startApp) is the separate entry @fpa/testing/app; jest-only assertions stay in test/support.
export * from './challenge-client';
export * from './clock';
export * from './http';
export * from './net';
export * from './processes';
export * from './smtp-receiver';
export * from './stores';
export * from './suite-env';
