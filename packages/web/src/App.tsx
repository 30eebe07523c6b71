import { parseRoute } from "./lib/route.ts";
import { HomePage } from "./pages/HomePage.tsx";
import { HostPage } from "./pages/HostPage.tsx";
import { JoinPage } from "./pages/JoinPage.tsx";
import { NotFoundPage } from "./pages/NotFoundPage.tsx";
import { RoomPage } from "./pages/RoomPage.tsx";

/** Pages are chosen once per load: every move between them is a real navigation with a fresh URL. */
export function App() {
  const route = parseRoute(location.pathname);
  switch (route.page) {
    case "home":
      return <HomePage />;
    case "join":
      return <JoinPage conferenceId={route.conferenceId} />;
    case "host":
      return <HostPage conferenceId={route.conferenceId} />;
    case "room":
      return <RoomPage conferenceId={route.conferenceId} />;
    case "not-found":
      return <NotFoundPage />;
  }
}
