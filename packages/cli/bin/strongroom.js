#!/usr/bin/env node
// The `strongroom` command: runs the built client, bundled into one file (npm install builds it;
// npm run build rebuilds it).
import '../dist/strongroom.mjs';
