// A /v1/segment call made the way Photoroom's Node sample (Photoroom/api-code-samples, node/remove-background.js)
// makes it: https.request with `X-API-Key`, a multipart body written by hand with a Date-based boundary and
// streamed in chunks (no Content-Length: chunked transfer), an `image/jpeg` part header whatever the file,
// and the answer accepted only with an image Content-Type. The host is the test server's, over plain http.
const http = require('http');
const fs = require('fs');

const [, , url, apiKey, imagePath, savePath] = process.argv;
const target = new URL(url);
const boundary = '--------------------------' + Date.now().toString(16);
const req = http.request({
    hostname: target.hostname, port: target.port, path: '/v1/segment', method: 'POST',
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'X-API-Key': apiKey },
}, (res) => {
    const isImage = ['image/jpeg', 'image/png', 'image/gif'].includes(res.headers['content-type']);
    if (!isImage) {
        let errorData = '';
        res.on('data', (chunk) => errorData += chunk);
        res.on('end', () => { console.error(`Expected an image response, but received: ${errorData}`); process.exit(2); });
        return;
    }
    const fileStream = fs.createWriteStream(savePath);
    res.pipe(fileStream);
    fileStream.on('finish', () => console.log(JSON.stringify({ status: res.statusCode, uncertainty: res.headers['x-uncertainty-score'] })));
});
req.on('error', (error) => { console.error(error.message); process.exit(1); });
req.write(`--${boundary}\r\n`);
req.write(`Content-Disposition: form-data; name="image_file"; filename="${imagePath.split('/').pop()}"\r\n`);
req.write('Content-Type: image/jpeg\r\n\r\n');
const upload = fs.createReadStream(imagePath);
upload.on('end', () => { req.write('\r\n'); req.write(`--${boundary}--\r\n`); req.end(); });
upload.pipe(req, { end: false });
