// First, before anything creates a zod schema: see the module.
import "./lib/zodJitless.ts";
import { render } from "preact";
import { App } from "./App.tsx";
import "./styles/base.css";
import "./styles/members.css";
import "./styles/forms.css";
import "./styles/room.css";
import "./styles/table.css";
import "./styles/chat.css";
import "./styles/voice.css";

const root = document.getElementById("app");
if (!root) throw new Error("index.html lacks #app");
render(<App />, root);
