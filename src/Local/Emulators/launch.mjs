// Runs the local AWS stand-ins as one process tree, bound to 127.0.0.1:
//   fauxqs (SQS, SNS, S3) in this process, DynamoDB Local (Java) as a child.
// It exits, stopping both, on SIGINT/SIGTERM or when its standard input closes,
// so a parent that dies without cleaning up never leaves an emulator behind.
//
// usage: node launch.mjs --fauxqs-port 4566 --dynamodb-port 8000 --dynamodb-dir DIR
import { register } from "node:module";
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";

register("./resolve-hooks.mjs", import.meta.url);

const { values } = parseArgs({
  options: {
    "fauxqs-port": { type: "string" },
    "dynamodb-port": { type: "string" },
    "dynamodb-dir": { type: "string" },
    java: { type: "string", default: "java" },
  },
});

const children = [];
let fauxqs;
let stopping = false;

async function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  if (fauxqs) await fauxqs.close().catch(() => {});
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(0));
process.stdin.on("end", () => stop(0));
process.stdin.on("error", () => stop(0));
process.stdin.resume();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

if (values["fauxqs-port"]) {
  const { buildApp } = await import("fauxqs");
  fauxqs = buildApp({ logger: false });
  await fauxqs.listen({ host: "127.0.0.1", port: Number(values["fauxqs-port"]) });
}

if (values["dynamodb-port"]) {
  const dir = values["dynamodb-dir"];
  const java = spawn(
    values.java,
    [
      `-Djava.library.path=${dir}/DynamoDBLocal_lib`,
      "-jar", `${dir}/DynamoDBLocal.jar`,
      "-sharedDb", "-disableTelemetry", "-port", values["dynamodb-port"], "-inMemory",
    ],
    { cwd: dir, stdio: ["ignore", "ignore", "inherit"] }, // DynamoDB Local writes its metadata file to its working folder
  );
  java.on("error", (error) => {
    console.error(`Cannot run ${values.java}: ${error.message}. DynamoDB Local needs Java 17+ on the PATH (apt install openjdk-17-jre-headless).`);
    stop(1);
  });
  java.on("exit", (code) => {
    if (!stopping) {
      console.error(`DynamoDB Local exited (${code})`);
      stop(1);
    }
  });
  children.push(java);
}

console.log("started");
