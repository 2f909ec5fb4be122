import Phone from "./phone";

export default function Page() {
  return (
    <main>
      <h1>endpoint-login with Next.js</h1>
      <Phone />
    </main>
  );
}
