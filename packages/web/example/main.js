import { startEdges } from './edges.js';

const status = document.getElementById('status');
startEdges(document.getElementById('out')).then(
  (run) => {
    status.textContent = `Edges of ${run.stream.format.width}x${run.stream.format.height} camera frames, computed on the GPU.`;
  },
  (error) => {
    status.textContent = `Cannot run: ${error.message}`;
  },
);
