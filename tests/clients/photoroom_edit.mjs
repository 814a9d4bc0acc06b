// A /v2/edit call the way Photoroom's JavaScript examples make it: Node 20's fetch with a FormData body,
// every value a string (booleans as "true"/"false", numbers as text), the photo as a Blob, `x-api-key`.
import fs from 'node:fs';

const [, , url, apiKey, imagePath, savePath] = process.argv;
const form = new FormData();
form.append('imageFile', new Blob([fs.readFileSync(imagePath)], { type: 'image/png' }), 'photo.png');
form.append('removeBackground', 'true');
form.append('background.color', 'FFFFFF');
form.append('outputSize', '400x400');
form.append('padding', '0.1');
form.append('ignorePaddingAndSnapOnCroppedSides', 'false');
form.append('shadow.mode', 'ai.soft');
form.append('export.format', 'jpeg');
const response = await fetch(`${url}/v2/edit`, { method: 'POST', headers: { 'x-api-key': apiKey }, body: form });
if (!response.ok) {
    console.error(`${response.status} ${await response.text()}`);
    process.exit(2);
}
fs.writeFileSync(savePath, Buffer.from(await response.arrayBuffer()));
console.log(JSON.stringify({ status: response.status, type: response.headers.get('content-type') }));
