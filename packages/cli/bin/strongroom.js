#!/usr/bin/env node
// The `strongroom` command: runs the built client (npm install builds it; npm run build rebuilds).
import '../dist/main.js';
