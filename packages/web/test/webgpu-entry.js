// The WebGPU example's page under test.
import { startEdges } from '../example/edges.js';
window.startEdges = startEdges;
window.miniavReady = true;
