// Drives remove.bg's npm client (`remove.bg`) against a test server. The client is loaded from its own
// install with one change: its endpoint constant names the test server. Every request is the client's.
// Usage: node removebg.js INSTALL_DIR ENDPOINT API_KEY PHOTO PHOTO_URL OUT_DIR; prints one JSON object.
"use strict";
const Module = require("module");
const fs = require("fs");
const path = require("path");

const [installDir, endpoint, apiKey, photo, photoUrl, outDir] = process.argv.slice(2);

function load() {
  const file = require.resolve("remove.bg", { paths: [installDir] });
  const source = fs.readFileSync(file, "utf8");
  const official = "https://api.remove.bg/v1.0/removebg";
  if (!source.includes(official)) throw new Error("the client no longer has its endpoint constant");
  const client = new Module(file, module);
  client.filename = file;
  client.paths = Module._nodeModulePaths(path.dirname(file));
  client._compile(source.replace(official, endpoint), file);
  return client.exports;
}

function summary(result) {
  return {
    creditsCharged: result.creditsCharged,
    detectedType: result.detectedType === undefined ? null : result.detectedType,
    resultWidth: result.resultWidth,
    resultHeight: result.resultHeight,
    base64Length: result.base64img.length,
  };
}

async function refused(call) {
  try {
    await call();
    return null;
  } catch (errors) {
    return errors;
  }
}

async function main() {
  const rbg = load();
  const out = {};
  out.file = summary(await rbg.removeBackgroundFromImageFile({
    path: photo, apiKey, size: "full", crop: true, outputFile: path.join(outDir, "file.png"),
  }));
  out.base64 = summary(await rbg.removeBackgroundFromImageBase64({
    base64img: fs.readFileSync(photo).toString("base64"), apiKey, size: "full", bg_color: "81d4fa",
    outputFile: path.join(outDir, "base64.png"),
  }));
  out.url = summary(await rbg.removeBackgroundFromImageUrl({
    url: photoUrl, apiKey, scale: "50%", outputFile: path.join(outDir, "url.png"),
  }));
  out.wrongKey = await refused(() => rbg.removeBackgroundFromImageFile({ path: photo, apiKey: "wrong" }));
  out.badSize = await refused(() => rbg.removeBackgroundFromImageFile({ path: photo, apiKey, size: "huge" }));
  // The client leaves its keep-alive sockets open: done is done.
  process.stdout.write(JSON.stringify(out), () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : JSON.stringify(error)));
  process.exit(1);
});
